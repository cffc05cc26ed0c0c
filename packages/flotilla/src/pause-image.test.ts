import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PAUSE_COMMAND } from '@flotilla/agent';
import { isStaticElf, pauseImageChanges, pauseRootfs } from '../../agent/src/runtime/pause-image.js';
import { readTar } from '../../agent/src/runtime/tar.js';

describe('the pause image recipe (packages/agent/src/runtime/pause-image.ts)', () => {
  it('tells static executables from dynamic ones', () => {
    expect(isStaticElf(readFileSync(process.execPath))).toBe(false);
    expect(isStaticElf(Buffer.from('#!/bin/sh\n'))).toBe(false);
  });

  it('holds busybox as /bin/sh and /bin/sleep and runs the pause command', () => {
    const files = readTar(pauseRootfs(Buffer.from('not really busybox')));
    const byName = new Map(files.map((f) => [f.name.replace(/\/$/, ''), f]));
    expect(byName.get('bin/busybox')?.data.toString()).toBe('not really busybox');
    expect(byName.get('bin/sh')?.linkTarget).toBe('busybox');
    expect(byName.get('bin/sleep')?.linkTarget).toBe('busybox');
    expect(pauseImageChanges({ a: 'b' })).toEqual(['ENV PATH=/bin', 'LABEL a=b', `CMD ${JSON.stringify(['/bin/sh', '-c', PAUSE_COMMAND])}`]);
  });
});
