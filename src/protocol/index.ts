export * from './socket.js';
export { TowerError } from './errors.js';
