// Child process of level-storage.crash.test.ts: writes through LevelStorage with many concurrent
// writers until it is killed, printing one line per acknowledged (durable) write:
//   open <revision>
//   ack <create|update|delete> <key> <revision>
// Arguments: <URL of a compiled level-storage.js> <database directory> <round> <writers>
const [moduleUrl, dir, round, writersArg] = process.argv.slice(2);
const { LevelStorage } = await import(moduleUrl);

const writers = Number(writersArg);
const storage = new LevelStorage({ path: dir });
await storage.open();
// stdout on a pipe is written synchronously on Linux: a printed line reached the parent even if
// this process is killed right after.
process.stdout.write(`open ${storage.currentRevision()}\n`);

/** Each writer creates its own keys, updates every third and deletes every fifth. */
async function writer(w) {
  for (let n = 0; n < 1_000_000; n++) {
    const key = `/crash/${round}/${w}/${n}`;
    const created = await storage.create(key, (rev) => JSON.stringify({ key, rev, pad: 'x'.repeat(512) }));
    process.stdout.write(`ack create ${key} ${created.modRevision}\n`);
    let modRevision = created.modRevision;
    if (n % 3 === 0) {
      const updated = await storage.update(key, (rev) => JSON.stringify({ key, rev, pad: 'y'.repeat(512) }), modRevision);
      process.stdout.write(`ack update ${key} ${updated.modRevision}\n`);
      modRevision = updated.modRevision;
    }
    if (n % 5 === 0) {
      const deleted = await storage.delete(key, modRevision);
      process.stdout.write(`ack delete ${key} ${deleted.revision}\n`);
    }
  }
}

await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));
await storage.close();
