// Exports streamed into a directory handle (what showDirectoryPicker returns), here an OPFS directory.
import { describe, expect, it } from 'vitest';
import { directoryFolder, writeFile } from './sink';

describe('directoryFolder', () => {
  it('writes files in chunks, creating subfolders', async () => {
    const root = await (await navigator.storage.getDirectory()).getDirectoryHandle(`export-test-${Date.now()}`, { create: true });
    const folder = directoryFolder(root);
    const file = await folder.file('onnx/model.onnx_data');
    await file.write(new Uint8Array([1, 2, 3]));
    await file.write(new Uint8Array([4, 5]));
    await file.close();
    await writeFile(folder, 'config.json', '{"a":1}');
    const data = await (await (await root.getDirectoryHandle('onnx')).getFileHandle('model.onnx_data')).getFile();
    expect(new Uint8Array(await data.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3, 4, 5]));
    expect(await (await (await root.getFileHandle('config.json')).getFile()).text()).toBe('{"a":1}');
  });
});
