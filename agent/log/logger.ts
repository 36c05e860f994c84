import winston from 'winston';
import { visible } from '../util/terminal-text.js';
import { ecsFields, ecsStringify } from '@elastic/ecs-winston-format';
import { ECS_VERSION } from '../util/ecs-version.js';
import { SafeLogFile } from './log-file.js';

/**
 * The agent's own diagnostics. Never written into an event stream: it goes to stderr or to a log
 * file. Metadata must never contain secrets (configs are redacted before they are logged).
 */
export interface Logger {
  error(message: string, meta?: Record<string, unknown>): void;
  warn(message: string, meta?: Record<string, unknown>): void;
  info(message: string, meta?: Record<string, unknown>): void;
  debug(message: string, meta?: Record<string, unknown>): void;
  child(meta: Record<string, unknown>): Logger;
}

export type LogLevel = 'error' | 'warn' | 'info' | 'debug';

export interface LoggerOptions {
  level: LogLevel;
  /** Log file path (0640, rotated at 10 MiB to path.1 ... path.4); stderr when absent. Opened at once: throws if unusable. */
  file?: string | undefined;
  /**
   * `ecs`: one ECS JSON line per record (service mode, a file, or stderr that is not a TTY);
   * `human`: short coloured lines for a person at a terminal.
   */
  format: 'ecs' | 'human';
}

function wrap(w: winston.Logger): Logger {
  return {
    error: (m, meta) => { w.error(m, meta); },
    warn: (m, meta) => { w.warn(m, meta); },
    info: (m, meta) => { w.info(m, meta); },
    debug: (m, meta) => { w.debug(m, meta); },
    child: (meta) => wrap(w.child(meta)),
  };
}

const human = winston.format.combine(
  winston.format.timestamp({ format: 'HH:mm:ss' }),
  winston.format.printf((info) => {
    const { level, message, timestamp, ...rest } = info;
    const extra = Object.keys(rest).length > 0 ? ` ${JSON.stringify(rest)}` : '';
    return `${String(timestamp)} portwarden ${level}: ${visible(String(message))}${visible(extra)}`;
  }),
);

// The library stamps its own ECS version (8.10.0); the agent's logs and events share one.
const ecsVersion = winston.format((info) => {
  info['ecs.version'] = ECS_VERSION;
  return info;
});
const ecs = winston.format.combine(ecsFields({ serviceName: 'portwarden', convertErr: true }), ecsVersion(), ecsStringify());

export function createLogger(opts: LoggerOptions): Logger {
  const format = opts.format === 'ecs' ? ecs : human;
  const stream = opts.file === undefined ? process.stderr : new SafeLogFile(opts.file, 10 * 1024 * 1024, 4);
  const transport = new winston.transports.Stream({ stream });
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment -- winston's typings declare TransportStream twice
  return wrap(winston.createLogger({ level: opts.level, format, transports: [transport] }));
}

/** A logger that discards everything, for tests and one-shot commands that must stay quiet. */
export const silentLogger: Logger = {
  error: () => undefined,
  warn: () => undefined,
  info: () => undefined,
  debug: () => undefined,
  child: () => silentLogger,
};

/** A logger that keeps records in memory, so tests can assert what the agent said. */
export function memoryLogger(): Logger & { records: { level: LogLevel; message: string; meta?: Record<string, unknown> }[] } {
  const records: { level: LogLevel; message: string; meta?: Record<string, unknown> }[] = [];
  const mk = (level: LogLevel) => (message: string, meta?: Record<string, unknown>) => {
    records.push(meta === undefined ? { level, message } : { level, message, meta });
  };
  const self = {
    records,
    error: mk('error'),
    warn: mk('warn'),
    info: mk('info'),
    debug: mk('debug'),
    child: () => self,
  };
  return self;
}
