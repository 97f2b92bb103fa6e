export * from './agents.js';
export { TowerError } from './errors.js';
export * from './limits.js';
export * from './session-events.js';
export * from './socket.js';
