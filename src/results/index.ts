/**
 * The results.json contract (DESIGN.md): its types, its schema check, and the one way two
 * results files are paired. `bench` writes it; `report` and `check` read it.
 */
export * from './types.js';
export { validateResults, resultsSchemaPath, type SchemaProblem } from './schema.js';
export { runKey, sutKind, shapeKey, pairRuns, pairMessages, classifyChange, CHANGE_ORDER, type ChangeKind, type RunMatch, type MessagePairs } from './pairing.js';
export { countRecords, runCounts, detectionCounts, hitDeadline, isLabelled, problemOf, categoriesOf, completedThroughput, deadlineHits, type Countable } from './counts.js';
