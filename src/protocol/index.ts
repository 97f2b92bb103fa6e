export { TowerError } from './errors.js';
export * from './socket.js';
