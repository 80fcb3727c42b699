// npm run inspect -- [--check-values] PATH|URL...
// For each path (a .gguf, a folder with config.json and safetensors shards, or an http(s) URL of either, read
// with Range requests) one JSON line: {"path", "ok": true, "arch", "layers", "params", "tensor_types",
// "tokenizer", "warnings"} or {"path", "ok": false, "error"}. Only headers (and tokenizer files) are read, unless
// --check-values, which reads every weight and checks it for NaN and infinity. Exit codes: 0 every model valid,
// 1 one is not, 2 bad arguments.
import { errorMessage } from '../util/errors';
import { inspectMain } from './inspect-model';

inspectMain(process.argv.slice(2), (line) => console.log(line), (line) => console.error(line)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(errorMessage(error));
    process.exitCode = 1;
  },
);
