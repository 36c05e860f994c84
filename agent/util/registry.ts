import { PortwardenError } from './errors.js';

/**
 * A named set of parts (output types, commands, detector families, collectors), each made on first
 * use and then kept. A part whose loader is an `import()` (T = Promise<...>) brings its module and
 * dependencies (kafkajs, undici, a platform's collector) only when the agent needs that part. Names
 * are the keys of one object literal, so a duplicate is a compile error; an unknown name is a
 * PortwardenError `UNKNOWN_NAME` that lists the known ones.
 */
export class Registry<T> {
  private readonly made = new Map<string, T>();

  /** `what` names the kind of part in errors, e.g. "output type". */
  constructor(readonly what: string, private readonly loaders: Readonly<Record<string, () => T>>) {}

  /** Every name, in registration order. */
  names(): string[] {
    return Object.keys(this.loaders);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.loaders, name);
  }

  /** `one of "a", "b", "c"`: for messages about a name that is not here. */
  expected(): string {
    return `one of ${this.names().map((n) => `"${n}"`).join(', ')}`;
  }

  /** The part called `name`, made once; throws UNKNOWN_NAME for a name not registered. */
  get(name: string): T {
    const load = this.has(name) ? this.loaders[name] : undefined;
    if (load === undefined) throw new PortwardenError('UNKNOWN_NAME', `unknown ${this.what} "${name}"; expected ${this.expected()}`);
    if (!this.made.has(name)) this.made.set(name, load());
    return this.made.get(name) as T;
  }

  /** Every part, in registration order. */
  all(): T[] {
    return this.names().map((n) => this.get(n));
  }
}
