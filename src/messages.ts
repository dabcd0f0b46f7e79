/**
 * Every text this service answers with, in one place.
 *
 * MOR's texts are copied letter for letter from the API page and MOR's behaviour
 * (../shared/DESIGN.md section 2); clients match on them. The service's own texts
 * follow MOR's tone: a short sentence, no trailing full stop.
 */

/** How a MOR answer is framed: `page` wraps `<status>` in `<page>`, `bare` does not. */
export type Framing = 'page' | 'bare';

export interface MorText {
  text: string;
  framing: Framing;
}

function page(text: string): MorText {
  return { text, framing: 'page' };
}

function bare(text: string): MorText {
  return { text, framing: 'bare' };
}

/** MOR's own answers, by the row of the check order that gives them. */
export const MOR = {
  accessDenied: page('Access Denied'),
  apiDisabled: bare('API Requests are disabled'),
  getDisabled: bare('GET Requests are disabled'),
  secretMissing: bare('API must have Secret Key'),
  incorrectHash: bare('Incorrect hash'),
  userNotFound: page('User was not found'),
  nameMissing: page('Speed Dial name must be provided'),
  numberEmpty: page('Record number should have at least one digit'),
  speeddialShort: page('Speed Dial should have at least two digits'),
  numberNotNumeric: page('Record number must be numeric'),
  speeddialNotNumeric: page('Speed Dial must be numeric'),
  speeddialTaken: page('Speed dial must be unique'),
  recordAdded: page('Record successfully added'),
} as const satisfies Record<string, MorText>;

/**
 * Bounds that MOR leaves to MySQL. Checked after MOR's five field checks and before
 * uniqueness, so a value the database could not hold is a clear error, never a 5xx.
 */
export const BOUNDS = {
  nameInvalidText: page(
    'Speed Dial name must be valid UTF-8 text without NUL characters',
  ),
  nameTooLong: page('Speed Dial name is too long (maximum is 255 characters)'),
  numberTooLong: page('Record number is too long (maximum is 255 characters)'),
  speeddialTooLong: page('Speed Dial is too long (maximum is 50 characters)'),
} as const satisfies Record<string, MorText>;

/** This service's own errors: texts and the HTTP status each is answered with. */
export interface ServiceError {
  code: string;
  text: string;
  httpStatus: number;
}

function serviceError(code: string, httpStatus: number, text: string): ServiceError {
  return { code, text, httpStatus };
}

export const SERVICE_ERRORS = {
  paramNotText: serviceError(
    'PARAM_NOT_TEXT',
    400,
    'Parameter %s must be a single text value',
  ),
  bodyMalformed: serviceError('BODY_MALFORMED', 400, 'Request body could not be parsed'),
  badRequest: serviceError('BAD_REQUEST', 400, 'Request could not be parsed'),
  requestTimeout: serviceError(
    'REQUEST_TIMEOUT',
    408,
    'Request was not received in time',
  ),
  headersTooLarge: serviceError(
    'HEADERS_TOO_LARGE',
    431,
    'Request headers are too large',
  ),
  bodyTooLarge: serviceError('BODY_TOO_LARGE', 413, 'Request body is too large'),
  urlTooLong: serviceError('URL_TOO_LONG', 414, 'Request URL is too long'),
  tooManyParams: serviceError('TOO_MANY_PARAMS', 413, 'Request has too many parameters'),
  idempotencyKeyInvalid: serviceError(
    'IDEMPOTENCY_KEY_INVALID',
    400,
    'Idempotency-Key must be 1 to 255 visible ASCII characters',
  ),
  idempotencyKeyReused: serviceError(
    'IDEMPOTENCY_KEY_REUSED',
    422,
    'Idempotency-Key was already used with other params',
  ),
  rateLimited: serviceError('RATE_LIMITED', 429, 'Too many requests, try again later'),
  jobNotFound: serviceError('JOB_NOT_FOUND', 404, 'Job was not found'),
  queueUnavailable: serviceError(
    'QUEUE_UNAVAILABLE',
    503,
    'Service temporarily unavailable, try again later',
  ),
  jobFailed: serviceError('JOB_FAILED', 503, 'Job failed: %s'),
  notFound: serviceError('NOT_FOUND', 404, 'Not found'),
  methodNotAllowed: serviceError('METHOD_NOT_ALLOWED', 405, 'Method not allowed'),
  internal: serviceError('INTERNAL', 500, 'Internal error'),
} as const satisfies Record<string, ServiceError>;

/** Fills the `%s` of a text of this catalogue. */
export function formatText(text: string, detail: string): string {
  return text.replace('%s', detail);
}

/** Fills the `%s` of a service error text. */
export function formatServiceError(error: ServiceError, detail = ''): string {
  return formatText(error.text, detail);
}

/**
 * Why a delivery ended without a 2xx, as the job status answer shows it. Texts name
 * the range or the HTTP status, never the URL or a resolved address: an address a
 * private name resolves to is none of the caller's business.
 */
export const DELIVERY_REASONS = {
  urlInvalid: 'callback_url is not a valid URL',
  urlTooLong: 'callback_url is longer than 2048 bytes',
  schemeRefused: 'callback_url must use http or https',
  addressRefused: 'callback_url address is not allowed (%s)',
  hostRefused: 'callback_url host resolves to no allowed address (%s)',
  noSecret: 'the caller scope has no API secret to sign the delivery with',
  finalAnswer: 'the receiver answered HTTP %s',
  retriesSpent: 'retries spent; the last attempt ended with %s',
  internal: 'internal error',
} as const satisfies Record<string, string>;
