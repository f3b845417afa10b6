/**
 * `watch`'s log: one line per event on stderr, as text or (`--log-format
 * json`) one JSON object a line. Messages and fields may quote log content
 * (source names, reasons): every text is escaped for a terminal either way.
 */
import { terminalSafe } from '../common/terminal.js';
import type { Io } from './command.js';

export type LogFields = Record<string, string | number | boolean | null>;

export interface WatchLog {
  info(event: string, message: string, fields?: LogFields): void;
  error(event: string, message: string, fields?: LogFields): void;
}

export function watchLog(io: Io, format: 'text' | 'json', now = (): Date => new Date()): WatchLog {
  const write = (level: 'info' | 'error', event: string, message: string, fields: LogFields = {}): void => {
    const time = now().toISOString();
    if (format === 'json') {
      const safe = Object.fromEntries(Object.entries(fields).map(([k, v]) => [k, typeof v === 'string' ? terminalSafe(v) : v]));
      io.raw.stderr.write(JSON.stringify({ time, level, event, message: terminalSafe(message), ...safe }) + '\n');
    } else io.stderr.line(`${time} ${level === 'error' ? 'error' : 'info'} ${event}: ${message}`);
  };
  return { info: (e, m, f) => write('info', e, m, f), error: (e, m, f) => write('error', e, m, f) };
}
