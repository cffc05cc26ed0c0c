export * from './fake-client.js';
export { FakeClock } from '../clock.js';
