/** The S3 backend. Imported lazily by `openStorage` so that nothing loads the AWS SDK unless an s3:// location is used. */
export { S3Storage, openS3Storage } from './storage.js';
