import { UserError } from '@regime/data';

/** A problem with feature definitions, inputs or a manifest: the user's to fix (CLI exit 1). */
export class FeatureError extends UserError {}
