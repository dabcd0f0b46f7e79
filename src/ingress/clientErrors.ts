import type { Socket } from 'node:net';
import type { Logger } from 'pino';
import { formatServiceError, SERVICE_ERRORS, type ServiceError } from '../messages.ts';
import { errorXml, XML_TYPE } from '../xml.ts';

/**
 * Answers for requests Node's HTTP parser refuses before fastify sees them (a request
 * line or headers past the limit, a malformed request, a client too slow to send):
 * the same bare XML errors as every other refusal, written straight to the socket,
 * which is then closed. Node's own answers here would be JSON or empty.
 */

function errorFor(code: string | undefined): ServiceError {
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return SERVICE_ERRORS.requestTimeout;
  if (code === 'HPE_HEADER_OVERFLOW') return SERVICE_ERRORS.headersTooLarge;
  return SERVICE_ERRORS.badRequest;
}

const REASONS: Record<number, string> = {
  400: 'Bad Request',
  408: 'Request Timeout',
  431: 'Request Header Fields Too Large',
};

export function answerClientError(
  error: Error & { code?: string },
  socket: Socket,
  log: Logger,
): void {
  // A reset connection has nobody left to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return;

  const serviceError = errorFor(error.code);
  log.info(
    { status: serviceError.httpStatus, code: error.code, outcome: serviceError.code },
    'client error',
  );
  if (socket.writable) {
    const body = Buffer.from(errorXml(formatServiceError(serviceError)));
    socket.write(
      `HTTP/1.1 ${serviceError.httpStatus} ${REASONS[serviceError.httpStatus]}\r\n` +
        `Content-Type: ${XML_TYPE}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`,
    );
    socket.write(body);
  }
  socket.destroy(error);
}
