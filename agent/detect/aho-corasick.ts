/**
 * An Aho-Corasick automaton over a list of strings, in typed arrays: per state its transitions
 * (sorted by character), failure link, the string ids ending there, and the next state along the
 * failure links that has output. Built once per engine; the prefilter (prefilter.ts) steps it over
 * each event's text. Compact arrays instead of a map per state: 1,300 Sigma rules make some 50,000
 * states, and most states have one transition (a linear look at one slot).
 */
export class Automaton {
  /** Transitions of the root for ASCII characters (0: stay at the root). */
  private readonly root = new Int32Array(128);
  private readonly edgeStart: Int32Array;
  private readonly edgeChar: Int32Array;
  private readonly edgeNext: Int32Array;
  private readonly fail: Int32Array;
  /** Per state: the string ids ending there (`outIds[outStart[s] .. outStart[s + 1]]`). */
  readonly outStart: Int32Array;
  readonly outIds: Int32Array;
  /** Per state: the nearest state along the failure links with output (-1: none). */
  readonly dict: Int32Array;

  constructor(strings: readonly string[]) {
    // The trie, with a map per state while it is built.
    const next: Map<number, number>[] = [new Map<number, number>()];
    const ends: number[][] = [[]];
    strings.forEach((str, id) => {
      let s = 0;
      for (let i = 0; i < str.length; i++) {
        const c = str.charCodeAt(i);
        const here = next[s] ?? new Map<number, number>();
        let n = here.get(c);
        if (n === undefined) {
          n = next.length;
          next.push(new Map<number, number>());
          ends.push([]);
          here.set(c, n);
        }
        s = n;
      }
      ends[s]?.push(id);
    });
    const states = next.length;
    this.edgeStart = offsets(next.map((m) => m.size));
    const edges = this.edgeStart[states] ?? 0;
    this.edgeChar = new Int32Array(edges);
    this.edgeNext = new Int32Array(edges);
    for (let s = 0; s < states; s++) {
      let e = this.edgeStart[s] ?? 0;
      for (const [c, n] of [...(next[s] ?? [])].sort((a, b) => a[0] - b[0])) {
        this.edgeChar[e] = c;
        this.edgeNext[e] = n;
        e++;
      }
    }
    for (const [c, n] of next[0] ?? []) if (c < 128) this.root[c] = n;
    this.outStart = offsets(ends.map((e) => e.length));
    this.outIds = new Int32Array(ends.flat());
    this.fail = new Int32Array(states);
    this.dict = new Int32Array(states).fill(-1);
    this.link(next);
  }

  private hasOutput(s: number): boolean {
    return (this.outStart[s + 1] ?? 0) > (this.outStart[s] ?? 0);
  }

  /** Failure links breadth first: a state's failure is the longest proper suffix that is a trie path. */
  private link(next: readonly Map<number, number>[]): void {
    const queue: number[] = [...(next[0]?.values() ?? [])];
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q] ?? 0;
      for (const [c, n] of next[s] ?? []) {
        const f = s === 0 ? 0 : this.step(this.fail[s] ?? 0, c);
        this.fail[n] = f;
        this.dict[n] = this.hasOutput(f) ? f : (this.dict[f] ?? -1);
        queue.push(n);
      }
    }
  }

  /** The state after reading character code `c` in state `s`. */
  step(s: number, c: number): number {
    const { edgeStart, edgeChar, edgeNext } = this;
    let st = s;
    for (;;) {
      if (st === 0 && c < 128) return this.root[c] ?? 0;
      let lo = edgeStart[st] ?? 0;
      let hi = edgeStart[st + 1] ?? 0;
      // Sorted transitions: a short run is read in order, a long one (the root's) halved.
      while (hi - lo > 8) {
        const mid = (lo + hi) >> 1;
        // The wanted transition, if any, is at or after lo and at or before mid when edgeChar[mid] >= c.
        if ((edgeChar[mid] ?? 0) < c) lo = mid + 1;
        else hi = mid + 1;
      }
      for (let e = lo; e < hi; e++) if (edgeChar[e] === c) return edgeNext[e] ?? 0;
      if (st === 0) return 0;
      st = this.fail[st] ?? 0;
    }
  }

  /** The first state whose outputs hold after reaching `s` (itself or along its failure links), or -1. */
  firstOutput(s: number): number {
    return this.hasOutput(s) ? s : (this.dict[s] ?? -1);
  }
}

/** Where each of consecutive runs of these lengths starts, and at the end the total. */
function offsets(lengths: readonly number[]): Int32Array {
  const out = new Int32Array(lengths.length + 1);
  for (let i = 0; i < lengths.length; i++) out[i + 1] = (out[i] ?? 0) + (lengths[i] ?? 0);
  return out;
}
