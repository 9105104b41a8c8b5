/**
 * One answer per key shared by every caller in this process for a short
 * while. In a burst, hundreds of waiting jobs ask the same routing question
 * ("is a cold runner free for this model?") within the same second; each
 * fresh answer costs two DescribeTaskQueue calls and a query. Callers that
 * ask while an answer is being fetched wait for that same answer.
 *
 * Nothing may depend on the cache for correctness: another replica has its
 * own, and an answer is at most `ttlMs` old. A failed question is not kept,
 * so the next caller asks again.
 */
export function sharedAnswer<T>(ttlMs: number, ask: (key: string) => Promise<T>, now: () => number = Date.now): (key: string) => Promise<T> {
  const answers = new Map<string, { at: number; answer: Promise<T> }>();
  return (key) => {
    const at = now();
    const kept = answers.get(key);
    if (kept && at - kept.at < ttlMs) return kept.answer;
    // Keys are model and tier: few. Drop the stale ones now and then rather than keep a timer.
    if (answers.size > 256) for (const [k, v] of answers) if (at - v.at >= ttlMs) answers.delete(k);
    const answer = ask(key);
    if (ttlMs > 0) {
      const entry = { at, answer };
      answers.set(key, entry);
      answer.catch(() => {
        if (answers.get(key) === entry) answers.delete(key);
      });
    }
    return answer;
  };
}
