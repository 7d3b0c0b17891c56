import Type from 'typebox'
import { ERRORS } from '../errors.js'

/** The body of every error response, for OpenAPI. */
export const ErrorBodySchema = Type.Object({
  code: Type.Enum(Object.keys(ERRORS), { description: 'stable GW_ERR_* code; see the README error table' }),
  message: Type.String({ description: 'what happened and what to do next, in the Content-Language' }),
  retryAfterSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
  nextOpenAt: Type.Optional(Type.String({ description: 'when the request window next opens, ISO 8601' })),
  fields: Type.Optional(Type.Array(Type.String(), { description: 'JSON pointers of the invalid fields' }))
}, { $id: 'ErrorBody' })

/** Route `response` entries for error statuses, all in the ErrorBody shape. */
export function errorResponses (...statuses: number[]): Record<number, { $ref: string }> {
  return Object.fromEntries(statuses.map((status) => [status, { $ref: 'ErrorBody#' }]))
}
