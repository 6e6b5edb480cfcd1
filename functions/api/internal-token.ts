import { readFileSync } from 'node:fs';
import { createHash, timingSafeEqual } from 'node:crypto';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * The shared token nginx adds as X-Internal-Token. It lives in a mounted Secret, so it can
 * change under us: on a mismatch the file is re-read (at most once a second) before refusing.
 */
export function internalTokenCheck(file: string): (presented: string | undefined) => boolean {
  let expected = read(file);
  let readAt = Date.now();
  const matches = (presented: string) => timingSafeEqual(digest(presented), expected);
  return (presented) => {
    if (!presented) return false;
    if (matches(presented)) return true;
    if (Date.now() - readAt < 1000) return false;
    expected = read(file);
    readAt = Date.now();
    return matches(presented);
  };
}

function read(file: string): Buffer {
  let token: string;
  try {
    token = readFileSync(file, 'utf8').trim();
  } catch {
    throw new Error(`INTERNAL_TOKEN_FILE: cannot read ${file}`);
  }
  if (!token) throw new Error(`INTERNAL_TOKEN_FILE: ${file} is empty`);
  return digest(token);
}
