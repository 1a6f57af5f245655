export { startServer, type TestServer } from './http-upgrade-server.js';
