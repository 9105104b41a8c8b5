/** A fetch response's body as text, and as JSON when it is JSON (error bodies are not always). */
export async function readBody(res: Response): Promise<{ status: number; json: any; text: string; headers: Headers }> {
  const text = await res.text();
  let json: any;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, json, text, headers: res.headers };
}
