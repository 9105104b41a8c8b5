/** Whether the gateway is shutting down (closeHttpServer sets it): a response cut then is not the customer hanging up. */
import type { Application } from 'express';

export function isDraining(app: Application): boolean {
  return app.locals.draining === true;
}
