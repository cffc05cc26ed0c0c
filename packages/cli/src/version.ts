/** The version flctl reports (`flctl version --client`). */
export const CLIENT_VERSION = {
  major: '1',
  minor: '31',
  gitVersion: 'v1.31.0-flotilla.0.1.0',
  gitCommit: '',
  gitTreeState: 'clean',
  buildDate: '',
  goVersion: '',
  compiler: 'node',
  platform: `${process.platform}/${process.arch === 'x64' ? 'amd64' : process.arch}`,
};
