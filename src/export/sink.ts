// Where an export writes: a folder of files, each written in chunks, so that a model larger than the JS heap
// streams to disk (Node), to a folder the user picked (File System Access API), to OPFS, or into a zip.
export interface FileSink {
  write(bytes: Uint8Array): Promise<void>;
  close(): Promise<void>;
}

export interface FolderSink {
  /** A new file at `path` ("onnx/model.onnx": subfolders are created). */
  file(path: string): Promise<FileSink>;
}

/** Writes a whole file at once. */
export async function writeFile(folder: FolderSink, path: string, content: Uint8Array | string): Promise<void> {
  const file = await folder.file(path);
  await file.write(typeof content === 'string' ? new TextEncoder().encode(content) : content);
  await file.close();
}

/**
 * A folder kept in memory (tests, small exports that are zipped afterwards). Past `limitBytes` in all, a write
 * throws `tooLarge` (a message for the user) instead of exhausting the heap.
 */
export function memoryFolder(limitBytes = Infinity, tooLarge = 'the export is too large to build in memory'): FolderSink & { files: Map<string, Uint8Array> } {
  const files = new Map<string, Uint8Array>();
  let total = 0;
  return {
    files,
    async file(path) {
      const chunks: Uint8Array[] = [];
      return {
        async write(bytes) {
          total += bytes.length;
          if (total > limitBytes) throw new Error(tooLarge);
          chunks.push(bytes.slice());
        },
        async close() {
          const size = chunks.reduce((n, c) => n + c.length, 0);
          const all = new Uint8Array(size);
          let at = 0;
          for (const c of chunks) {
            all.set(c, at);
            at += c.length;
          }
          files.set(path, all);
        },
      };
    },
  };
}

/** A folder the user picked (File System Access API: showDirectoryPicker) or an OPFS directory; files stream. */
export function directoryFolder(root: FileSystemDirectoryHandle): FolderSink {
  return {
    async file(path) {
      const parts = path.split('/');
      let dir = root;
      for (const part of parts.slice(0, -1)) dir = await dir.getDirectoryHandle(part, { create: true });
      const writable = await (await dir.getFileHandle(parts[parts.length - 1], { create: true })).createWritable();
      return {
        write: async (bytes) => writable.write(bytes as Uint8Array<ArrayBuffer>),
        close: async () => writable.close(),
      };
    },
  };
}
