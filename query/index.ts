export { openDataset } from './dataset.js';
export type { OpenDataset } from './dataset.js';
export { overview } from './overview.js';
export type { TableOverview } from './overview.js';
