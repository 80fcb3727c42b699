// Files on disk for exports (a FolderSink), and files read by range (for the GGUF and safetensors readers).
import { mkdir, open } from 'node:fs/promises';
import { dirname, join } from 'node:path';
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
