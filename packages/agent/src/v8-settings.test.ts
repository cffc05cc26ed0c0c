import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { AGENT_V8_FLAGS, DATA_PLANE_V8_FLAGS } from './v8-settings.js';

describe('agent V8 settings', () => {
  // V8 only prints an error for a flag it does not know: a Node.js whose V8 dropped one fails here.
  it('are flags this V8 knows', () => {
    const known = spawnSync(process.execPath, ['--v8-options'], { encoding: 'utf8' }).stdout;
    for (const flag of [...AGENT_V8_FLAGS, ...DATA_PLANE_V8_FLAGS]) {
      const name = flag.replace(/=.*$/, '').replace(/^--no-/, '--');
      expect(known, flag).toContain(`  ${name} (`);
    }
  });

  it('are accepted at run time', () => {
    const script = `const v8 = require('node:v8'); v8.setFlagsFromString(${JSON.stringify(AGENT_V8_FLAGS.join(' '))}); v8.setFlagsFromString(${JSON.stringify(DATA_PLANE_V8_FLAGS.join(' '))}); JSON.stringify({ a: [1, 2, 3] });`;
    const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
