import type { Logger } from '../lib/log.js';

function line(level: string, message: string, fields?: Record<string, unknown>): string {
  const time = new Date().toISOString().slice(11, 23);
  const rest = Object.entries(fields ?? {})
    .filter(([, v]) => v !== undefined && v !== null)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(' ');
  return `${time} ${level.padEnd(5)} ${message}${rest ? ` ${rest}` : ''}`;
}

/** One readable line per log call, on stderr for warnings and errors. */
export function consoleLogger(quiet = false): Logger {
  return {
    info: (m, f) => {
      if (!quiet) console.log(line('info', m, f));
    },
    warn: (m, f) => console.error(line('warn', m, f)),
    error: (m, f) => console.error(line('error', m, f)),
  };
}
