import { TollgateError } from "./errors.ts";

/** Small HTTP helpers for the handler: reading a bounded JSON body and answering JSON. */

const JSON_MEDIA_TYPE = /^application\/(?:[\w.+-]+\+)?json$/i;

/**
 * Reads the request's body as JSON: refuses other media types (415), bodies over `maxBytes` (413,
 * whether or not `Content-Length` announced them) and text that is not JSON (400).
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const contentType = request.headers.get("Content-Type") ?? "";
  // Nearly every client sends exactly this, so it skips the parsing below.
  if (contentType !== "application/json" && !JSON_MEDIA_TYPE.test(contentType.split(";")[0]!.trim())) {
    throw new TollgateError("unsupported_media_type", { headers: { "Accept-Post": "application/json" } });
  }
  const length = request.headers.get("Content-Length");
  const declared = length === null ? Number.NaN : Number(length);
  if (declared > maxBytes) throw tooLarge(maxBytes);

  // A body of declared length within the cap can only be that long (HTTP framing stops it there),
  // so the runtime may read it whole, which is much cheaper than pulling chunks (on Node it skips
  // the web stream altogether). A body of unknown length is read chunk by chunk up to the cap.
  let text: string;
  try {
    text = Number.isInteger(declared) ? await request.text() : await readText(request, maxBytes);
  } catch (error) {
    if (error instanceof TollgateError) throw error;
    // The connection went away before the body was whole: the request is incomplete, not the
    // server at fault (and when the client itself left, the handler answers nobody anyway).
    throw new TollgateError("invalid_request", { detail: "The body could not be read in full", cause: error });
  }
  // UTF-8 takes at least one byte per UTF-16 unit, so this catches a body longer than it said.
  if (text.length > maxBytes) throw tooLarge(maxBytes);
  try {
    return JSON.parse(text);
  } catch {
    throw new TollgateError("invalid_request", { detail: "Body is not valid JSON" });
  }
}

async function readText(request: Request, maxBytes: number): Promise<string> {
  if (!request.body) return "";
  const text = await readCappedText(request.body, maxBytes);
  // Past the cap the rest is left to the server, which discards it once we have answered.
  if (text === undefined) throw tooLarge(maxBytes);
  return text;
}

/**
 * A stream's text, or undefined once it passes `maxBytes`; then the reader is let go without
 * cancelling the stream. Not cancel(): on Node, cancelling a request body that Readable.toWeb is
 * still feeding can throw an uncaught ERR_INVALID_STATE and take the process down (nodejs/node#64529).
 */
export async function readCappedText(body: ReadableStream<Uint8Array>, maxBytes: number): Promise<string | undefined> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      reader.releaseLock();
      return undefined;
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return new TextDecoder().decode(bytes);
}

function tooLarge(maxBytes: number) {
  return new TollgateError("payload_too_large", { detail: `Body must be at most ${maxBytes} bytes` });
}

/** An absolute URL's path: what follows the authority, up to any query or fragment. */
const URL_PATH = /^[^:/?#]+:\/\/[^/?#]*([^?#]*)/;

/**
 * Whether a request's URL names the usage route: its path ends in `/usage`, trailing slashes
 * aside. A pattern rather than `new URL()`, which parses every part of the URL on every request
 * to read one.
 */
export function isUsagePath(url: string): boolean {
  return /\/usage\/*$/.test(URL_PATH.exec(url)?.[1] ?? "");
}

/** A response carrying `json` (JSON text) that no cache keeps, with the given extra fields (the rate limits'). */
export function jsonResponse(json: string, fields?: Readonly<Record<string, string>>): Response {
  return new Response(json, { headers: { ...fields, "Content-Type": "application/json", "Cache-Control": "no-store" } });
}
