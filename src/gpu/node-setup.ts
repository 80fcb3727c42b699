// Vitest setup for the GPU tests under Node (project gpu-node).
import { installNodeWebGpu } from './node';

installNodeWebGpu();
