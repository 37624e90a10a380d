import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** One file the console page loads; `version` changes with its content, so the shell can let browsers keep it. */
export interface ConsoleAsset {
  body: string;
  contentType: string;
  version: string;
}

const FILES = {
  'console.js': 'text/javascript; charset=utf-8',
  'console.css': 'text/css; charset=utf-8',
  'icon.svg': 'image/svg+xml',
} as const;

export type ConsoleAssetName = keyof typeof FILES;

/** Reads the console's static files once; there is no build step, they are served as written. */
export function loadConsoleAssets(): Map<string, ConsoleAsset> {
  const assets = new Map<string, ConsoleAsset>();
  for (const [name, contentType] of Object.entries(FILES)) {
    const body = readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
    const version = createHash('sha256').update(body).digest('hex').slice(0, 12);
    assets.set(name, { body, contentType, version });
  }
  return assets;
}
