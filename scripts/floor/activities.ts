/** The floor's runner-like activity: a fixed text at once, and when it started (epoch ms, this machine's clock). */
export interface FloorAnswer {
  text: string;
  startedAt: number;
  workerId: string;
}

export function floorActivities(workerId: string) {
  return {
    async runInference(prompt: string): Promise<FloorAnswer> {
      return { text: `ok: ${prompt.length}`, startedAt: Date.now(), workerId };
    },
  };
}

export type FloorActivities = ReturnType<typeof floorActivities>;
