import { PortwardenError } from './errors.js';

/**
 * A named set of parts (output types, commands, detectors, collectors), each loaded on first use:
 * a part's module and its dependencies (kafkajs, undici, a platform's collector) load only when
 * the agent needs that part. Names are the keys of one object literal, so a duplicate is a compile
 * error; an unknown name is a PortwardenError `UNKNOWN_NAME` that lists the known ones.
 */
export class Registry<T> {
  private readonly loaded = new Map<string, Promise<T>>();

  /** `what` names the kind of part in errors, e.g. "output type". */
  constructor(readonly what: string, private readonly loaders: Readonly<Record<string, () => T | Promise<T>>>) {}

  /** Every name, in registration order. */
  names(): string[] {
    return Object.keys(this.loaders);
  }

  has(name: string): boolean {
    return Object.hasOwn(this.loaders, name);
  }

  /** "one of "a", "b", "c"": for messages about a name that is not here. */
  expected(): string {
    return `one of ${this.names().map((n) => `"${n}"`).join(', ')}`;
  }

  /** The part called `name`, loaded once; rejects with UNKNOWN_NAME for a name not registered. */
  get(name: string): Promise<T> {
    const load = this.has(name) ? this.loaders[name] : undefined;
    if (load === undefined) return Promise.reject(new PortwardenError('UNKNOWN_NAME', `unknown ${this.what} "${name}"; expected ${this.expected()}`));
    let p = this.loaded.get(name);
    if (p === undefined) {
      p = Promise.resolve().then(load);
      this.loaded.set(name, p);
    }
    return p;
  }

  /** Every part, loaded, in registration order. */
  all(): Promise<T[]> {
    return Promise.all(this.names().map((n) => this.get(n)));
  }
}
