/** Every command, in the order the top-level help lists them. Declaring them loads no library. */
import type { Command } from '../command.js';
import { athenaCommand } from './athena.js';
import { compactCommand } from './compact.js';
import { analyzeCommand, detectCommand } from './detect.js';
import { detectionsCommand } from './detections.js';
import { findingsCommand } from './findings.js';
import { ingestCommand } from './ingest.js';
import { intelCommand } from './intel.js';
import { postureCommand } from './posture.js';
import { publishCommand } from './publish.js';
import { queryCommand } from './query.js';
import { serveCommand } from './serve.js';
import { watchCommand } from './watch.js';

export const COMMANDS: readonly Command[] = [ingestCommand, analyzeCommand, detectCommand, watchCommand, findingsCommand, queryCommand, detectionsCommand, postureCommand, serveCommand, athenaCommand, publishCommand, compactCommand, intelCommand];
