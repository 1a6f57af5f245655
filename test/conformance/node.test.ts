/**
 * The conformance suite on the portable backend, with the server in its own
 * process (serve.js) so memory is measured on the server alone.
 */
import { defineConformanceCases } from './cases.js';
import { linuxNodeLauncher, serveTarget } from './serve-target.js';

defineConformanceCases(serveTarget('portable backend (node:http + node:http2) via serve.js', 'node', linuxNodeLauncher));
