// Finds the files of a model on the Hugging Face Hub (or a server laid out like it): weights (one file,
// safetensors shards or split GGUF parts), config and tokenizer files, with sizes and sha256 where the Hub
// gives them. The token goes in an Authorization header only.
import { describeHttpStatus } from './download';

export const HUB_ENDPOINT = 'https://huggingface.co';

export interface HubFile {
  /** Path inside the repo. */
  path: string;
  url: string;
  /** Bytes, when the Hub said. */
  size?: number;
  /** Lowercase hex, for LFS files (the Hub's x-linked-etag, or an ETag that is a sha256). */
  sha256?: string;
}

export interface ResolvedModel {
  repo: string;
  revision: string;
  endpoint: string;
  format: 'safetensors' | 'gguf';
  /** In file order: safetensors shards sorted by name, GGUF parts 1..n. */
  weights: HubFile[];
  /** Sharded safetensors: tensor name -> shard path. */
  weightMap?: Record<string, string>;
  config?: HubFile;
  tokenizer?: HubFile;
  tokenizerConfig?: HubFile;
  /** Sum of the weights' sizes, when all are known. */
  weightBytes?: number;
}

export interface ResolveHubOptions {
  /** `owner/name` (or a legacy `name`). */
  repo: string;
  /** Branch, tag or commit; default `main`. */
  revision?: string;
  /** A `.gguf` (split parts are found from `-00001-of-0000N`), a `.safetensors` or a `.safetensors.index.json`. */
  file?: string;
  token?: string;
  endpoint?: string;
  fetch?: typeof fetch;
}

export class HubError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'HubError';
  }
}

const REPO_PATTERN = /^[\w.-]+(\/[\w.-]+)?$/;
const SPLIT_GGUF = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/;

export function hubFileUrl(endpoint: string, repo: string, revision: string, path: string): string {
  const base = endpoint.replace(/\/+$/, '');
  const encodedPath = path.split('/').map(encodeURIComponent).join('/');
  return `${base}/${repo}/resolve/${encodeURIComponent(revision)}/${encodedPath}`;
}

/** The names of all parts of a split GGUF, given any one of them; null when `file` is not a split part. */
export function splitGgufParts(file: string): string[] | null {
  const match = file.match(SPLIT_GGUF);
  if (!match) return null;
  const count = Number(match[3]);
  if (count < 1 || Number(match[2]) < 1 || Number(match[2]) > count) return null;
  return Array.from({ length: count }, (_, i) => `${match[1]}-${String(i + 1).padStart(5, '0')}-of-${match[3]}.gguf`);
}

/** A repo-relative path that stays inside the repo. */
function checkRepoPath(path: string, where: string): void {
  if (!path || path.startsWith('/') || path.split('/').some((part) => part === '..' || part === '')) {
    throw new HubError(`${where}: "${path}" is not a file path inside the repo`);
  }
}

/** A sha256 from an ETag-like header: 64 hex digits once quotes and W/ are stripped. */
function sha256FromEtag(value: string | null): string | undefined {
  const bare = value?.replace(/^W\//, '').replace(/"/g, '').trim().toLowerCase();
  return bare && /^[0-9a-f]{64}$/.test(bare) ? bare : undefined;
}

type Requester = (path: string, init: { method: 'GET' | 'HEAD'; redirect: RequestRedirect }) => Promise<Response>;

/** The error for a failed Hub response, naming the repo, revision or file (from the Hub's X-Error-Code). */
function hubHttpError(response: Response, at: { repo: string; revision: string; path: string; token?: string }): HubError {
  const { repo, revision, path } = at;
  const { status } = response;
  const code = response.headers.get('x-error-code');
  void response.body?.cancel().catch(() => {});
  if (status === 401 || status === 403) {
    const message = describeHttpStatus(status, `${repo}@${revision}: ${path}`, Boolean(at.token));
    return new HubError(code === 'RepoNotFound' ? `repo "${repo}" not found, or ${message}` : message, status);
  }
  if (code === 'RepoNotFound') return new HubError(`repo "${repo}" not found on the Hub (check the name)`, status);
  if (code === 'RevisionNotFound') return new HubError(`revision "${revision}" not found in repo "${repo}"`, status);
  if (code === 'EntryNotFound' || status === 404) {
    return new HubError(`file "${path}" not found in ${repo}@${revision} (check the repo, revision and file names)`, status);
  }
  return new HubError(describeHttpStatus(status, `${repo}@${revision}: ${path}`, Boolean(at.token)), status);
}

/** A 404 for the whole repo or revision, as opposed to one absent file. */
const repoOrRevisionMissing = (response: Response) =>
  response.status === 404 && ['RepoNotFound', 'RevisionNotFound'].includes(response.headers.get('x-error-code') ?? '');

export async function resolveHubFiles(options: ResolveHubOptions): Promise<ResolvedModel> {
  const { repo, file, token } = options;
  const revision = options.revision ?? 'main';
  const endpoint = (options.endpoint ?? HUB_ENDPOINT).replace(/\/+$/, '');
  const fetchFn = options.fetch ?? globalThis.fetch.bind(globalThis);
  if (!REPO_PATTERN.test(repo)) throw new HubError(`"${repo}" is not a Hub repo name (owner/name)`);
  if (file !== undefined) checkRepoPath(file, 'file');

  const urlOf = (path: string) => hubFileUrl(endpoint, repo, revision, path);
  const request: Requester = async (path, init) => {
    const headers: Record<string, string> = {};
    if (token) headers.Authorization = `Bearer ${token}`;
    try {
      return await fetchFn(urlOf(path), { ...init, headers, cache: 'no-store' });
    } catch (error) {
      throw new HubError(`could not reach ${endpoint} for ${repo}: ${(error as Error).message} (offline?)`);
    }
  };

  /** Size and sha256 of a file; null when the file is absent (404). */
  const head = async (path: string): Promise<HubFile | null> => {
    // Manual redirects show the Hub's own x-linked-* headers on the 302 in Node; a browser hides the
    // redirect (opaqueredirect), so it follows and reads the final response instead.
    let response = await request(path, { method: 'HEAD', redirect: 'manual' });
    const redirected = response.type === 'opaqueredirect' || (response.status >= 300 && response.status < 400);
    if (redirected && (response.type === 'opaqueredirect' || !response.headers.get('x-linked-size'))) {
      response = await request(path, { method: 'HEAD', redirect: 'follow' });
    }
    if (repoOrRevisionMissing(response)) throw hubHttpError(response, { repo, revision, path, token });
    if (response.status === 404) return null;
    if (!response.ok && !(response.status >= 300 && response.status < 400)) {
      throw hubHttpError(response, { repo, revision, path, token });
    }
    const sizeHeader = response.headers.get('x-linked-size') ?? response.headers.get('content-length');
    const size = sizeHeader !== null && /^\d+$/.test(sizeHeader) ? Number(sizeHeader) : undefined;
    const sha256 = sha256FromEtag(response.headers.get('x-linked-etag')) ?? sha256FromEtag(response.headers.get('etag'));
    return { path, url: urlOf(path), size, sha256 };
  };

  const requireFile = async (path: string): Promise<HubFile> => {
    const found = await head(path);
    if (!found) throw new HubError(`file "${path}" not found in ${repo}@${revision}`, 404);
    return found;
  };

  const getJson = async (path: string): Promise<unknown | null> => {
    const response = await request(path, { method: 'GET', redirect: 'follow' });
    if (response.status === 404 && !repoOrRevisionMissing(response)) {
      void response.body?.cancel().catch(() => {});
      return null;
    }
    if (!response.ok) throw hubHttpError(response, { repo, revision, path, token });
    try {
      return await response.json();
    } catch (error) {
      throw new HubError(`${repo}@${revision}: ${path} is not valid JSON: ${(error as Error).message}`);
    }
  };

  const shardedSafetensors = async (indexPath: string, index: unknown) => {
    const weightMap = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof weightMap !== 'object' || weightMap === null || Array.isArray(weightMap)) {
      throw new HubError(`${repo}@${revision}: ${indexPath} has no weight_map object`);
    }
    const folder = indexPath.includes('/') ? indexPath.slice(0, indexPath.lastIndexOf('/') + 1) : '';
    const map: Record<string, string> = {};
    for (const [tensor, shard] of Object.entries(weightMap)) {
      if (typeof shard !== 'string') throw new HubError(`${indexPath}: weight_map["${tensor}"] is not a file name`);
      checkRepoPath(shard, indexPath);
      map[tensor] = folder + shard;
    }
    const shards = [...new Set(Object.values(map))].sort();
    if (shards.length === 0) throw new HubError(`${repo}@${revision}: ${indexPath} lists no shards`);
    return { weights: await Promise.all(shards.map(requireFile)), weightMap: map };
  };

  let format: ResolvedModel['format'];
  let weights: HubFile[];
  let weightMap: Record<string, string> | undefined;
  if (file?.toLowerCase().endsWith('.gguf')) {
    format = 'gguf';
    weights = await Promise.all((splitGgufParts(file) ?? [file]).map(requireFile));
  } else if (file?.endsWith('.safetensors.index.json')) {
    format = 'safetensors';
    const index = await getJson(file);
    if (index === null) throw new HubError(`file "${file}" not found in ${repo}@${revision}`, 404);
    ({ weights, weightMap } = await shardedSafetensors(file, index));
  } else if (file?.endsWith('.safetensors')) {
    format = 'safetensors';
    weights = [await requireFile(file)];
  } else if (file !== undefined) {
    throw new HubError(`"${file}": expected a .gguf, .safetensors or .safetensors.index.json file`);
  } else {
    format = 'safetensors';
    const index = await getJson('model.safetensors.index.json');
    if (index !== null) {
      ({ weights, weightMap } = await shardedSafetensors('model.safetensors.index.json', index));
    } else {
      const single = await head('model.safetensors');
      if (!single) {
        throw new HubError(
          `${repo}@${revision} has neither model.safetensors.index.json nor model.safetensors; ` +
            'for a GGUF repo, name the .gguf file',
          404,
        );
      }
      weights = [single];
    }
  }

  const [config, tokenizer, tokenizerConfig] = await Promise.all(
    ['config.json', 'tokenizer.json', 'tokenizer_config.json'].map(head),
  );
  const sizes = weights.map((w) => w.size);
  const weightBytes = sizes.every((s) => s !== undefined) ? sizes.reduce((a: number, b) => a + (b as number), 0) : undefined;
  return {
    repo,
    revision,
    endpoint,
    format,
    weights,
    ...(weightMap && { weightMap }),
    ...(config && { config }),
    ...(tokenizer && { tokenizer }),
    ...(tokenizerConfig && { tokenizerConfig }),
    ...(weightBytes !== undefined && { weightBytes }),
  };
}
