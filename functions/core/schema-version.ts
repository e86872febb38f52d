/**
 * The version of every JSON (and YAML) document cutover-watch writes, as its `schemaVersion`
 * field: what the CLI prints and the report JSON the scheduled job puts in S3. It changes only
 * when a field is removed or changes meaning; added fields keep it. Scripts can check it
 * (`jq -e '.schemaVersion == 1'`). README "Output" lists the documents.
 */
export const SCHEMA_VERSION = 1;
