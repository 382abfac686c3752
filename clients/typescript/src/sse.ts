/**
 * A server-sent events reader over a fetch body, per the WHATWG rules: `event`, `data` (lines
 * joined with "\n"), `id`, comments ignored, an event dispatched at each blank line.
 */

export interface SseMessage {
  event: string;
  data: string;
  id: string | undefined;
}

export async function* readSse(body: ReadableStream<Uint8Array>): AsyncGenerator<SseMessage> {
  const decoder = new TextDecoder();
  const reader = body.getReader();
  let buffer = "";
  let event = "";
  let data: string[] = [];
  let id: string | undefined;
  try {
    for (;;) {
      const { value, done } = await reader.read();
      // At the end, a last "\r" is a line end after all (an unfinished event is dropped).
      buffer += done ? "\n" : decoder.decode(value, { stream: true });
      let end: number;
      while ((end = lineEnd(buffer)) >= 0) {
        const line = buffer.slice(0, end);
        buffer = buffer.slice(end + (buffer.startsWith("\r\n", end) ? 2 : 1));
        if (line === "") {
          if (data.length > 0) yield { event: event || "message", data: data.join("\n"), id };
          event = "";
          data = [];
          continue;
        }
        if (line.startsWith(":")) continue;
        const colon = line.indexOf(":");
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) value = value.slice(1);
        if (field === "event") event = value;
        else if (field === "data") data.push(value);
        else if (field === "id" && !value.includes("\0")) id = value;
      }
      if (done) return;
    }
  } finally {
    // Stopping early (a `break`, an abort) closes the connection: the daemon sees the client
    // leave and cancels the upstream request.
    await reader.cancel().catch(() => undefined);
  }
}

function lineEnd(buffer: string): number {
  const n = buffer.indexOf("\n");
  const r = buffer.indexOf("\r");
  if (r >= 0 && r === buffer.length - 1) return n >= 0 && n < r ? n : -1; // a lone \r may be half of \r\n
  if (n < 0) return r;
  if (r < 0) return n;
  return Math.min(n, r);
}
