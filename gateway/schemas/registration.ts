// Request and response bodies of the registration and appointment-request routes. Every string
// is length- and format-bounded (maxLength on every string of a registration: its body limit is
// computed from them), unknown fields are refused (additionalProperties: false).
import Type from 'typebox'
import { worstCaseJsonBytes } from './json-size.js'

// No control or invisible format characters (zero-width spaces, bidi marks) in names and
// addresses: they have no place there, break logs and CSV, and dress one person up as two.
const TEXT = '^[^\\u0000-\\u001F\\u007F\\p{Cf}]*$'
const text = (min: number, max: number, description: string) => Type.String({ minLength: min, maxLength: max, pattern: TEXT, description })

/** A calendar date, YYYY-MM-DD, that exists (format: date rejects 1990-02-30). */
export const DateSchema = (description = 'YYYY-MM-DD') => Type.String({ format: 'date', pattern: '^\\d{4}-\\d{2}-\\d{2}$', maxLength: 10, description })

/** A phone's location fix, as sent with appointment requests and confirmations. */
export const LocationSchema = Type.Object({
  latitude: Type.Number({ minimum: -90, maximum: 90 }),
  longitude: Type.Number({ minimum: -180, maximum: 180 }),
  accuracyMeters: Type.Number({ minimum: 0, maximum: 1_000_000 })
}, { additionalProperties: false })

export const REGISTRATION_ID = '^reg_[A-Za-z0-9_-]{22}$'
export const REQUEST_ID = '^apr_[A-Za-z0-9_-]{22}$'

export const MemberSchema = Type.Object({
  firstName: text(1, 100, 'given name(s), as on the travel document'),
  lastName: text(1, 100, 'family name(s), as on the travel document'),
  dateOfBirth: DateSchema(),
  nationality: Type.String({ pattern: '^[A-Z]{3}$', maxLength: 3, description: 'ISO 3166-1 alpha-3, e.g. HTI' }),
  usAddress: Type.Object({
    line1: text(1, 200, 'street address'),
    line2: Type.Optional(text(0, 200, 'apartment, suite, unit')),
    city: text(1, 100, 'city'),
    state: Type.String({ pattern: '^[A-Z]{2}$', maxLength: 2, description: 'two-letter US state code' }),
    zip: Type.String({ pattern: '^\\d{5}(-\\d{4})?$', maxLength: 10, description: 'ZIP or ZIP+4' })
  }, { additionalProperties: false })
}, { additionalProperties: false })

export function newRegistrationSchema (maxMembers: number) {
  return Type.Object({
    members: Type.Array(MemberSchema, { minItems: 1, maxItems: maxMembers }),
    preferredLanguage: Type.String({ pattern: '^[a-z]{2,3}(-[A-Za-z0-9]{2,8})?$', maxLength: 12, description: 'BCP 47 language tag, e.g. ht or es-MX' })
  }, { additionalProperties: false })
}

/**
 * The body limit of POST /v1/registrations: the largest body an honest client sends for a group of
 * maxMembers, every field at its longest and escaped (json-size.ts). Derived, so that raising
 * GATEWAY_REGISTRATION_MAX_MEMBERS or a field's maxLength raises it too.
 */
export function registrationBodyLimit (maxMembers: number): number {
  return worstCaseJsonBytes(newRegistrationSchema(maxMembers))
}

export const RegistrationSchema = Type.Object({
  registrationId: Type.String(),
  createdAt: Type.String(),
  preferredLanguage: Type.String(),
  members: Type.Array(MemberSchema)
}, { $id: 'Registration' })

export const RegistrationParams = Type.Object({ id: Type.String({ pattern: REGISTRATION_ID }) })
export const RequestParams = Type.Object({ id: Type.String({ pattern: REQUEST_ID }) })

export function newAppointmentRequestSchema (poes: string[]) {
  return Type.Object({
    registrationId: Type.String({ pattern: REGISTRATION_ID }),
    poe: Type.Enum(poes, { description: 'port of entry slug' }),
    location: LocationSchema
  }, { additionalProperties: false })
}

export const AppointmentRequestSchema = Type.Object({
  requestId: Type.String(),
  registrationId: Type.String(),
  poe: Type.String(),
  poolDate: Type.String({ description: 'local date of the draw this request is in, YYYY-MM-DD' }),
  status: Type.Enum(['pooled', 'selected', 'not-selected', 'confirmed', 'lapsed', 'withdrawn']),
  appointment: Type.Optional(Type.Object({
    poe: Type.String(),
    date: Type.String({ description: 'YYYY-MM-DD' }),
    slot: Type.String({ description: 'HH:MM, local time at the port' }),
    confirmationNumber: Type.String({ description: '16 characters; confirm with it before confirmBy' }),
    confirmBy: Type.String({ description: 'ISO 8601' }),
    extensions: Type.Optional(Type.Integer({ minimum: 0 }))
  }))
}, { $id: 'AppointmentRequest' })

export const IdentitySchema = Type.Object({
  firstName: text(1, 100, 'given name(s)'),
  lastName: text(1, 100, 'family name(s)'),
  dateOfBirth: DateSchema()
}, { additionalProperties: false })
