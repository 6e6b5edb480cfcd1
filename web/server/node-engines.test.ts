import { describe, expect, it } from 'vitest';
import { engineWarning } from './node-engines';

describe('engineWarning', () => {
  const required = '^22.22.2 || ^24.15.0 || >=26.0.0';

  it.each(['v22.22.2', 'v22.30.0', 'v24.15.0', 'v24.20.1', 'v26.0.0', 'v27.1.0', '24.15.0'])('is silent on %s, which engines lists', (running) => {
    expect(engineWarning(running, required)).toBeUndefined();
  });

  it.each(['v20.20.2', 'v22.22.1', 'v22.0.0', 'v23.5.0', 'v24.14.9', 'v18.19.0'])('names %s and the required range in one line', (running) => {
    const line = engineWarning(running, required)!;
    expect(line).toBe(`warning: Node.js ${running} is not a version this project supports (package.json "engines": ${required}); continuing, but upgrade Node.js if something fails`);
    expect(line).not.toContain('\n');
  });

  it('reads a version without the leading v as Node prints it', () => {
    expect(engineWarning('20.20.2', required)).toContain('Node.js v20.20.2 ');
  });
});
