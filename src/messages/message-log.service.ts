/**
 * @deprecated The message log lives in `./log/` now; import from `./log/message-log.service`.
 * This re-export only keeps the importers in `src/hub/` (being rewritten on other branches) compiling
 * until they move; delete it once nothing imports this path.
 */
export * from './log/message-log.service';
