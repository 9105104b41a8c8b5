/**
 * `node --import tsx scripts/floor/runner.ts ADDRESS NAMESPACE QUEUE WORKER_ID`:
 * one runner-like activity worker of the floor, its own process as a runner is.
 */
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { floorActivities } from './activities.js';

const [address, namespace, taskQueue, workerId] = process.argv.slice(2);
if (!address || !namespace || !taskQueue || !workerId) {
  console.error('usage: runner.ts ADDRESS NAMESPACE QUEUE WORKER_ID');
  process.exit(2);
}
Runtime.install({ logger: new DefaultLogger('WARN') });
const connection = await NativeConnection.connect({ address });
const worker = await Worker.create({ connection, namespace, taskQueue, identity: workerId, activities: floorActivities(workerId) });
const stop = () => worker.shutdown();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
const running = worker.run();
console.log(`floor runner ${workerId}: polling ${taskQueue}`);
await running;
await connection.close();
