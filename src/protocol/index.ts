export * from './agents.js';
export { TowerError } from './errors.js';
export * from './host.js';
export * from './limits.js';
export { reqIdOf } from './message.js';
export * from './names.js';
export * from './socket.js';
export * from './substrates.js';
