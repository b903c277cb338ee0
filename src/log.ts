/**
 * Where tollgate writes what only the operator should read. Fields never hold secrets. The shape is
 * pino's (fields first, then the message), so a pino logger, or a child of one, can be passed as it is.
 */
export interface Logger {
  error(fields: Record<string, unknown>, message: string): void;
  warn(fields: Record<string, unknown>, message: string): void;
  info(fields: Record<string, unknown>, message: string): void;
}

function line(level: string, fields: Record<string, unknown>, message: string): string {
  return JSON.stringify({ time: new Date().toISOString(), level, message, ...fields });
}

/** One JSON object a line on the console, which every log shipper reads. */
export const consoleLogger: Logger = {
  error: (fields, message) => console.error(line("error", fields, message)),
  warn: (fields, message) => console.warn(line("warn", fields, message)),
  info: (fields, message) => console.info(line("info", fields, message)),
};
