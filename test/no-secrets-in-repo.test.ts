import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';

/*
 * No secret value lives in git. Scans every git-tracked file for
 *  - the previous system's known passwords, in plain text and base64 (at any byte alignment);
 *  - Kubernetes Secret objects that carry data/stringData (Secrets come from External Secrets only;
 *    recorded API responses in test/fixtures/ may show them with every value "redacted");
 *  - base64 blobs in the rendered manifests (platform/), where an inlined secret would show up.
 * The one file left out of the known-password scan is this test itself, which has to name them.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const self = relative(root, fileURLToPath(import.meta.url));
const KNOWN_PASSWORDS = ['changeme123', 'devpassword123'];

/** Base64 of `secret` embedded at any offset: the stable middle of its encoding at alignments 0, 1, 2. */
function base64Forms(secret: string): string[] {
  const forms = new Set<string>();
  for (let pad = 0; pad < 3; pad++) {
    const encoded = Buffer.from('\0'.repeat(pad) + secret).toString('base64');
    // Drop characters that depend on neighbouring bytes: the first block touched by padding, and the tail.
    const start = pad === 0 ? 0 : 4;
    const end = Math.floor(((pad + secret.length) / 3)) * 4;
    forms.add(encoded.slice(start, end));
  }
  forms.add(Buffer.from(secret).toString('base64'));
  return [...forms].filter((f) => f.length >= 8);
}

interface SecretWithData {
  where: string;
  /** Decoded values (data is base64, stringData is plain). */
  values: string[];
}

/** Every object in a parsed manifest that is a Secret with data or stringData. */
function secretsWithData(node: unknown, found: SecretWithData[] = [], path = ''): SecretWithData[] {
  if (Array.isArray(node)) node.forEach((item, i) => secretsWithData(item, found, `${path}[${i}]`));
  else if (node && typeof node === 'object') {
    const obj = node as Record<string, unknown>;
    const entries = (key: string) => (obj[key] && typeof obj[key] === 'object' ? Object.values(obj[key] as object).map(String) : []);
    const data = entries('data').map((v) => Buffer.from(v, 'base64').toString('utf8'));
    const stringData = entries('stringData');
    if (obj.kind === 'Secret' && data.length + stringData.length > 0) {
      const name = (obj.metadata as { name?: string } | undefined)?.name ?? '(unnamed)';
      found.push({ where: `${path || '/'} Secret ${name}`, values: [...data, ...stringData] });
    }
    for (const [key, value] of Object.entries(obj)) secretsWithData(value, found, `${path}/${key}`);
  }
  return found;
}

/**
 * A scalar that looks like base64-encoded data rather than a word, path or checksum:
 * valid padded base64 of at least 12 characters with a digit or one of + / =, not plain hex,
 * not a lower-case path.
 */
function looksLikeBase64(value: string): boolean {
  if (value.length < 12 || value.length % 4 !== 0) return false;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return false;
  if (/^[0-9a-f]+$/.test(value)) return false; // checksums and hashes
  if (/^\/?([a-z0-9._-]+\/)+[a-z0-9._-]*$/.test(value)) return false; // paths
  if (!/[0-9+/=]/.test(value)) return false; // identifiers such as camelCase words
  return Buffer.from(value, 'base64').toString('base64') === value;
}

function scalars(node: unknown, out: string[] = []): string[] {
  if (typeof node === 'string') out.push(node);
  else if (Array.isArray(node)) node.forEach((n) => scalars(n, out));
  else if (node && typeof node === 'object') Object.values(node).forEach((n) => scalars(n, out));
  return out;
}

function parseYaml(file: string, text: string): unknown[] {
  return parseAllDocuments(text).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${file}: ${doc.errors[0]!.message}`);
    return doc.toJS();
  });
}

const tracked = execFileSync('git', ['ls-files', '-z'], { cwd: root, encoding: 'utf8' })
  .split('\0')
  .filter((f) => f.length > 0);
const manifests = tracked.filter((f) => /\.ya?ml$/.test(f) && !f.startsWith('node_modules/'));

function read(file: string): Buffer | undefined {
  try {
    return readFileSync(join(root, file));
  } catch {
    return undefined; // deleted in the working tree but still tracked
  }
}

describe('the detectors', () => {
  it("find the previous system's password in plain text and in base64 at any offset", () => {
    const forms = base64Forms('changeme123');
    expect(forms).toContain('Y2hhbmdlbWUxMjM=');
    for (const prefix of ['', 'a', 'ab', 'abc']) {
      const blob = Buffer.from(`${prefix}password=changeme123;`).toString('base64');
      expect(forms.some((f) => blob.includes(f))).toBe(true);
    }
  });

  it('find a Secret with data inside a manifest list, and leave ExternalSecrets alone', () => {
    const [list] = parseYaml('x.yaml', 'kind: List\nitems:\n  - kind: Secret\n    metadata: { name: db }\n    data: { password: Y2hhbmdlbWUxMjM= }\n');
    expect(secretsWithData(list)).toEqual([{ where: '/items[0] Secret db', values: ['changeme123'] }]);
    const [external] = parseYaml('y.yaml', 'kind: ExternalSecret\nspec:\n  data:\n    - secretKey: password\n');
    expect(secretsWithData(external)).toEqual([]);
  });

  it('tell base64 blobs from names, paths and checksums', () => {
    for (const blob of ['Y2hhbmdlbWUxMjM=', 'ZGV2cGFzc3dvcmQxMjM=', 'c2VjcmV0LXRva2VuLXZhbHVlMTIz']) expect(looksLikeBase64(blob)).toBe(true);
    for (const word of ['readOnlyRootFilesystem', '/var/lib/postgresql/data', '2495dbcb52c5a0e5', 'tasks-api-config', 'SecretsManager']) {
      expect(looksLikeBase64(word)).toBe(false);
    }
  });
});

describe('the repository', () => {
  it('has tracked files and manifests to scan', () => {
    expect(tracked.length).toBeGreaterThan(10);
    expect(manifests.some((f) => f.startsWith('platform/'))).toBe(true);
  });

  it(`contains none of the previous system's passwords, plain or base64 (${self} itself excluded)`, () => {
    const needles = KNOWN_PASSWORDS.flatMap((p) => [p, ...base64Forms(p)]);
    const hits: string[] = [];
    for (const file of tracked) {
      if (file === self) continue;
      const content = read(file)?.toString('latin1');
      if (!content) continue;
      for (const needle of needles) if (content.includes(needle)) hits.push(`${file}: contains a known password (${needle.length} chars)`);
    }
    expect(hits).toEqual([]);
  });

  it('has no Kubernetes Secret with data or stringData in any manifest', () => {
    // Recorded cluster responses under test/fixtures/ show synced Secrets; their values must be the placeholder.
    const hits = manifests.flatMap((file) => {
      const text = read(file)?.toString('utf8');
      if (!text) return [];
      const recorded = file.startsWith('test/fixtures/');
      return parseYaml(file, text)
        .flatMap((doc) => secretsWithData(doc))
        .filter((s) => !(recorded && s.values.every((v) => v === 'redacted')))
        .map((s) => `${file}: ${s.where}`);
    });
    expect(hits).toEqual([]);
  });

  it('has no base64 blobs in the platform manifests', () => {
    const hits = manifests
      .filter((f) => f.startsWith('platform/'))
      .flatMap((file) => {
        const text = read(file)?.toString('utf8');
        if (!text) return [];
        // Name the file and the length only: a real hit is a secret and must not end up in CI logs.
        return scalars(parseYaml(file, text)).filter(looksLikeBase64).map((v) => `${file}: ${v.length}-character base64 value`);
      });
    expect(hits).toEqual([]);
  });
});
