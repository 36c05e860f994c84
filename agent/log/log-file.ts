import { closeSync, fstatSync, renameSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import { createExclusiveSync, openAppendSync } from '../util/safe-fs.js';

/** The log file's mode: the agent's user writes, its group (a log shipper) reads. */
export const LOG_FILE_MODE = 0o640;

/**
 * The agent's log file (a stream for winston's Stream transport), written synchronously as each
 * line comes (nothing buffered is lost at exit).
 * Unlike winston's File transport it never follows a symlink or writes a file with another hard
 * link (a local user with write access to the log's directory cannot redirect the root agent's
 * writes), and the file is 0640 whatever the umask. At `maxBytes` it rotates: `path` becomes
 * `path.1`, `path.1` becomes `path.2` ... up to `path.<keep>`. A failed write (disk full) drops
 * that line and never throws: the log must not take the agent down.
 */
export class SafeLogFile extends Writable {
  private fd: number;
  private size: number;
  /** Lines lost to failed writes. */
  failed = 0;

  /** Opens (or creates) `path` at once: throws the open's error (ELOOP for a symlink, EUNSAFE ...). */
  constructor(private readonly path: string, private readonly maxBytes: number, private readonly keep: number) {
    super();
    this.fd = openAppendSync(path, LOG_FILE_MODE);
    this.size = fstatSync(this.fd).size;
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, next: () => void): void {
    const buf = chunk;
    try {
      if (this.fd < 0) this.reopen();
      else if (this.size > 0 && this.size + buf.length > this.maxBytes) this.rotate();
      let off = 0;
      while (off < buf.length) off += writeSync(this.fd, buf, off);
      this.size += buf.length;
    } catch {
      this.failed++;
    }
    next();
  }

  private rotate(): void {
    closeSync(this.fd);
    this.fd = -1;
    for (let i = this.keep; i >= 1; i--) {
      try {
        renameSync(i === 1 ? this.path : `${this.path}.${i - 1}`, `${this.path}.${i}`);
      } catch { /* that generation does not exist yet */ }
    }
    // Fails if something appeared at the path since the rename; the next line reopens it safely.
    this.fd = createExclusiveSync(this.path, LOG_FILE_MODE);
    this.size = 0;
  }

  private reopen(): void {
    this.fd = openAppendSync(this.path, LOG_FILE_MODE);
    this.size = fstatSync(this.fd).size;
  }

  override _final(done: () => void): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
    done();
  }
}
