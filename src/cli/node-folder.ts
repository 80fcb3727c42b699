// Files on disk for exports (a FolderSink), and files read by range (for the GGUF and safetensors readers).
import { mkdir, open, readdir, rename, rm, rmdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import type { FolderSink } from '../export/sink';
import type { RangeFile } from '../model/host-tensors';

export function nodeFolder(root: string): FolderSink {
  return {
    async file(path) {
      const full = join(root, path);
      await mkdir(dirname(full), { recursive: true });
      const handle = await open(full, 'w');
      return {
        write: async (bytes) => {
          let at = 0;
          while (at < bytes.length) at += (await handle.write(bytes, at, bytes.length - at)).bytesWritten;
        },
        close: () => handle.close(),
      };
    },
  };
}

/** A file read by range; close it with the returned function. */
export async function nodeRangeFile(path: string, name = path): Promise<{ file: RangeFile; close: () => Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    file: {
      name,
      source: {
        size,
        read: async (begin, end) => {
          const length = Math.max(0, Math.min(end, size) - begin);
          const buffer = new Uint8Array(length);
          let at = 0;
          while (at < length) {
            const { bytesRead } = await handle.read(buffer, at, length - at, begin + at);
            if (bytesRead === 0) break;
            at += bytesRead;
          }
          return buffer.subarray(0, at);
        },
      },
    },
    close: () => handle.close(),
  };
}

/**
 * Writes an export beside `out` (a hidden sibling), then renames it into place, so that `out` never holds a
 * partial export and a failure leaves nothing. `write` gets the sibling's path. `out` may be a new path, an
 * empty folder, or (for a file) an existing file; a folder with anything in it is refused before any work.
 */
export async function writeInPlace<T>(out: string, kind: 'file' | 'folder', write: (partial: string) => Promise<T>): Promise<T> {
  const existing = await stat(out).catch(() => null);
  if (existing?.isDirectory() && (kind === 'file' || (await readdir(out)).length > 0)) {
    throw new Error(`${out} is ${kind === 'file' ? 'a folder' : 'a folder that is not empty'}: give a new path for --out (nothing was written)`);
  }
  const partial = join(dirname(out), `.${basename(out)}.partial-${process.pid}`);
  await rm(partial, { recursive: true, force: true });
  try {
    const result = await write(partial);
    if (existing?.isDirectory()) await rmdir(out);
    await rename(partial, out);
    return result;
  } catch (error) {
    await rm(partial, { recursive: true, force: true });
    throw error;
  }
}
