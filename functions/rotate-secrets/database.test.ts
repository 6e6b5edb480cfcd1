import { describe, expect, it } from 'vitest';
import { parseConnectTo } from './database';

describe('parseConnectTo', () => {
  it('reads host:port', () => {
    expect(parseConnectTo('127.0.0.1:15432')).toEqual({ host: '127.0.0.1', port: 15432 });
    expect(parseConnectTo('internal-db.elb.eu-central-1.amazonaws.com:5432')).toMatchObject({ port: 5432 });
    expect(parseConnectTo(undefined)).toBeUndefined();
  });

  it('refuses anything else', () => {
    for (const bad of ['localhost', 'db:0', 'db:70000', 'db:54x', 'postgres://db:5432']) expect(() => parseConnectTo(bad)).toThrow(/expected host:port/);
  });
});
