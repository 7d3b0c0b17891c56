// Every error a client can see: a stable code, its HTTP status, and what to tell a person in each
// supported language. Codes are never reused for a new meaning (fastify lib/errors.js keeps the
// same discipline). Messages say what to do next, never only what went wrong, and never carry
// personal data: they are fixed text, chosen by code and language.

export const LANGUAGES = ['en', 'es', 'ht', 'ru'] as const
export type Language = typeof LANGUAGES[number]
export const DEFAULT_LANGUAGE: Language = 'en'

interface ErrorDefinition {
  status: number
  messages: Record<Language, string>
}

export const ERRORS = {
  GW_ERR_ROUTE_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'There is nothing at this address. Make sure the app is up to date, then try again.',
      es: 'No hay nada en esta dirección. Asegúrese de que la aplicación esté actualizada e inténtelo de nuevo.',
      ht: 'Pa gen anyen nan adrès sa a. Asire w aplikasyon an ajou, epi eseye ankò.',
      ru: 'По этому адресу ничего нет. Убедитесь, что приложение обновлено, и попробуйте снова.'
    }
  },
  GW_ERR_REQUEST_INVALID: {
    status: 400,
    messages: {
      en: 'Some information is missing or not in the expected form. Check the fields listed and send it again.',
      es: 'Falta información o no tiene el formato esperado. Revise los campos indicados y envíela de nuevo.',
      ht: 'Gen kèk enfòmasyon ki manke oswa ki pa nan bon fòma. Verifye chan ki nan lis la epi voye l ankò.',
      ru: 'Часть данных отсутствует или указана в неверном формате. Проверьте перечисленные поля и отправьте снова.'
    }
  },
  GW_ERR_REQUEST_MALFORMED_JSON: {
    status: 400,
    messages: {
      en: 'We could not read what the app sent. Update the app and try again; if it keeps happening, contact support.',
      es: 'No pudimos leer lo que envió la aplicación. Actualícela e inténtelo de nuevo; si sigue ocurriendo, comuníquese con soporte.',
      ht: 'Nou pa t kapab li sa aplikasyon an voye a. Mete l ajou epi eseye ankò; si sa kontinye rive, kontakte sipò.',
      ru: 'Не удалось прочитать данные, отправленные приложением. Обновите приложение и попробуйте снова; если ошибка повторяется, обратитесь в поддержку.'
    }
  },
  GW_ERR_REQUEST_MALFORMED: {
    status: 400,
    messages: {
      en: 'The request was not understood. Update the app and try again; if it keeps happening, contact support.',
      es: 'No se entendió la solicitud. Actualice la aplicación e inténtelo de nuevo; si sigue ocurriendo, comuníquese con soporte.',
      ht: 'Nou pa t konprann demann lan. Mete aplikasyon an ajou epi eseye ankò; si sa kontinye rive, kontakte sipò.',
      ru: 'Запрос не удалось разобрать. Обновите приложение и попробуйте снова; если ошибка повторяется, обратитесь в поддержку.'
    }
  },
  GW_ERR_REQUEST_BODY_TOO_LARGE: {
    status: 413,
    messages: {
      en: 'What you sent is too large. If it is a photo, take a new one at a lower resolution and try again.',
      es: 'Lo que envió es demasiado grande. Si es una foto, tome una nueva con menor resolución e inténtelo de nuevo.',
      ht: 'Sa w voye a twò gwo. Si se yon foto, pran yon lòt ak yon rezolisyon pi ba epi eseye ankò.',
      ru: 'Отправленные данные слишком велики. Если это фото, сделайте новое с меньшим разрешением и попробуйте снова.'
    }
  },
  GW_ERR_REQUEST_UNSUPPORTED_MEDIA_TYPE: {
    status: 415,
    messages: {
      en: 'This kind of content is not accepted here. Update the app and try again.',
      es: 'Este tipo de contenido no se acepta aquí. Actualice la aplicación e inténtelo de nuevo.',
      ht: 'Kalite kontni sa a pa aksepte isit la. Mete aplikasyon an ajou epi eseye ankò.',
      ru: 'Этот тип данных здесь не принимается. Обновите приложение и попробуйте снова.'
    }
  },
  GW_ERR_REQUEST_TIMEOUT: {
    status: 408,
    messages: {
      en: 'Your request took too long to arrive. Check your connection and try again.',
      es: 'Su solicitud tardó demasiado en llegar. Revise su conexión e inténtelo de nuevo.',
      ht: 'Demann ou an pran twòp tan pou l rive. Verifye koneksyon ou epi eseye ankò.',
      ru: 'Запрос шёл слишком долго. Проверьте подключение к интернету и попробуйте снова.'
    }
  },
  GW_ERR_REQUEST_HEADERS_TOO_LARGE: {
    status: 431,
    messages: {
      en: 'The request carried too much header data. Sign out and back in to the app, then try again.',
      es: 'La solicitud llevaba demasiados datos de encabezado. Cierre sesión, vuelva a entrar en la aplicación e inténtelo de nuevo.',
      ht: 'Demann lan te gen twòp done nan antèt li. Dekonekte epi rekonekte nan aplikasyon an, epi eseye ankò.',
      ru: 'В заголовках запроса слишком много данных. Выйдите из приложения, войдите снова и повторите попытку.'
    }
  },
  GW_ERR_REQUEST_NOT_ACCEPTABLE: {
    status: 406,
    messages: {
      en: 'The answer cannot be given in the format your request asked for. Ask for JSON or CSV (the Accept header), then try again.',
      es: 'La respuesta no se puede dar en el formato que pidió su solicitud. Pida JSON o CSV (el encabezado Accept) e inténtelo de nuevo.',
      ht: 'Nou pa ka bay repons lan nan fòma demann ou an mande a. Mande JSON oswa CSV (antèt Accept la), epi eseye ankò.',
      ru: 'Ответ нельзя выдать в запрошенном формате. Запросите JSON или CSV (заголовок Accept) и повторите попытку.'
    }
  },
  GW_ERR_SERVER_SHUTTING_DOWN: {
    status: 503,
    messages: {
      en: 'This server is restarting and did not process your request. Try again in a few seconds.',
      es: 'Este servidor se está reiniciando y no procesó su solicitud. Inténtelo de nuevo en unos segundos.',
      ht: 'Sèvè sa a ap redemare e li pa t trete demann ou an. Eseye ankò nan kèk segonn.',
      ru: 'Сервер перезапускается и не обработал ваш запрос. Повторите попытку через несколько секунд.'
    }
  },
  GW_ERR_STORE_UNAVAILABLE: {
    status: 503,
    messages: {
      en: 'The service is briefly unavailable and nothing was saved. Try again in a minute.',
      es: 'El servicio no está disponible por un momento y no se guardó nada. Inténtelo de nuevo en un minuto.',
      ht: 'Sèvis la pa disponib pou yon ti moman, e anyen pa t anrejistre. Eseye ankò nan yon minit.',
      ru: 'Сервис временно недоступен, ничего не сохранено. Повторите попытку через минуту.'
    }
  },
  GW_ERR_STORE_NOT_REPLICATED: {
    status: 503,
    messages: {
      en: 'The service could not confirm that your request was saved. Try again in a minute.',
      es: 'El servicio no pudo confirmar que su solicitud se guardó. Inténtelo de nuevo en un minuto.',
      ht: 'Sèvis la pa t ka konfime demann ou an te anrejistre. Eseye ankò nan yon minit.',
      ru: 'Сервису не удалось подтвердить, что ваш запрос сохранён. Повторите попытку через минуту.'
    }
  },
  GW_ERR_RATE_LIMITED: {
    status: 429,
    messages: {
      en: 'Too many requests right now. Wait the number of seconds shown, then try again; trying sooner will not help.',
      es: 'Hay demasiadas solicitudes en este momento. Espere los segundos indicados y vuelva a intentarlo; intentarlo antes no ayudará.',
      ht: 'Gen twòp demann kounye a. Tann kantite segonn yo montre a, epi eseye ankò; si w eseye pi vit sa p ap ede.',
      ru: 'Сейчас слишком много запросов. Подождите указанное число секунд и повторите попытку; раньше пробовать бесполезно.'
    }
  },
  GW_ERR_SERVER_OVERLOADED: {
    status: 503,
    messages: {
      en: 'The service is very busy and did not process your request. Wait the number of seconds shown, then try again.',
      es: 'El servicio está muy ocupado y no procesó su solicitud. Espere los segundos indicados y vuelva a intentarlo.',
      ht: 'Sèvis la twò okipe e li pa t trete demann ou an. Tann kantite segonn yo montre a, epi eseye ankò.',
      ru: 'Сервис перегружен и не обработал ваш запрос. Подождите указанное число секунд и повторите попытку.'
    }
  },
  GW_ERR_AUTH_TOKEN_MISSING: {
    status: 401,
    messages: {
      en: 'You are not signed in. Open the app and sign in, then try again.',
      es: 'No ha iniciado sesión. Abra la aplicación, inicie sesión y vuelva a intentarlo.',
      ht: 'Ou pa konekte. Louvri aplikasyon an epi konekte, apre sa eseye ankò.',
      ru: 'Вы не вошли в систему. Откройте приложение, войдите и повторите попытку.'
    }
  },
  GW_ERR_AUTH_TOKEN_INVALID: {
    status: 401,
    messages: {
      en: 'Your sign-in could not be checked. Sign out of the app, sign in again, then try again.',
      es: 'No se pudo verificar su inicio de sesión. Cierre sesión en la aplicación, vuelva a iniciarla e inténtelo de nuevo.',
      ht: 'Nou pa t kapab verifye koneksyon ou. Dekonekte nan aplikasyon an, konekte ankò, epi eseye ankò.',
      ru: 'Не удалось проверить ваш вход. Выйдите из приложения, войдите снова и повторите попытку.'
    }
  },
  GW_ERR_AUTH_TOKEN_EXPIRED: {
    status: 401,
    messages: {
      en: 'Your session has ended. Sign in again; what you entered is still in the app.',
      es: 'Su sesión terminó. Inicie sesión de nuevo; lo que escribió sigue en la aplicación.',
      ht: 'Sesyon ou an fini. Konekte ankò; sa w te antre yo toujou nan aplikasyon an.',
      ru: 'Ваш сеанс завершён. Войдите снова; введённые данные сохранены в приложении.'
    }
  },
  GW_ERR_AUTH_FORBIDDEN: {
    status: 403,
    messages: {
      en: 'Your account is not allowed to do this. If you think it should be, contact support.',
      es: 'Su cuenta no tiene permiso para hacer esto. Si cree que debería tenerlo, comuníquese con soporte.',
      ht: 'Kont ou pa gen dwa fè sa. Si ou panse li ta dwe genyen l, kontakte sipò.',
      ru: 'Вашей учётной записи это действие не разрешено. Если вы считаете это ошибкой, обратитесь в поддержку.'
    }
  },
  GW_ERR_DEVICE_ID_INVALID: {
    status: 400,
    messages: {
      en: 'The app did not identify this phone correctly. Update the app and try again.',
      es: 'La aplicación no identificó correctamente este teléfono. Actualice la aplicación e inténtelo de nuevo.',
      ht: 'Aplikasyon an pa t idantifye telefòn sa a kòrèkteman. Mete aplikasyon an ajou epi eseye ankò.',
      ru: 'Приложение не смогло правильно определить этот телефон. Обновите приложение и повторите попытку.'
    }
  },
  GW_ERR_IDEMPOTENCY_KEY_INVALID: {
    status: 400,
    messages: {
      en: 'The app did not label this request so it can be safely retried. Update the app and try again.',
      es: 'La aplicación no marcó esta solicitud para poder reintentarla con seguridad. Actualice la aplicación e inténtelo de nuevo.',
      ht: 'Aplikasyon an pa t make demann sa a pou yo ka reeseye l san danje. Mete aplikasyon an ajou epi eseye ankò.',
      ru: 'Приложение не пометило этот запрос для безопасного повтора. Обновите приложение и повторите попытку.'
    }
  },
  GW_ERR_IDEMPOTENCY_KEY_REUSED: {
    status: 422,
    messages: {
      en: 'This retry does not match the request it repeats, so nothing was changed. Start again from the beginning in the app.',
      es: 'Este reintento no coincide con la solicitud que repite, así que no se cambió nada. Empiece de nuevo desde el principio en la aplicación.',
      ht: 'Nouvo esè sa a pa koresponn ak demann li repete a, kidonk anyen pa t chanje. Rekòmanse depi nan kòmansman nan aplikasyon an.',
      ru: 'Этот повтор не совпадает с исходным запросом, поэтому ничего не изменено. Начните заново в приложении.'
    }
  },
  GW_ERR_IDEMPOTENCY_IN_PROGRESS: {
    status: 409,
    messages: {
      en: 'Your earlier attempt is still being processed. Wait a few seconds; the app will show the result.',
      es: 'Su intento anterior todavía se está procesando. Espere unos segundos; la aplicación mostrará el resultado.',
      ht: 'Esè ou te fè anvan an toujou ap trete. Tann kèk segonn; aplikasyon an ap montre rezilta a.',
      ru: 'Ваша предыдущая попытка ещё обрабатывается. Подождите несколько секунд; приложение покажет результат.'
    }
  },
  GW_ERR_REG_DEVICE_LIMIT: {
    status: 429,
    messages: {
      en: 'This phone has made as many registrations as allowed for now. Use the registration you already have, or try again after the time shown.',
      es: 'Este teléfono ya hizo todos los registros permitidos por ahora. Use el registro que ya tiene o inténtelo después del tiempo indicado.',
      ht: 'Telefòn sa a deja fè tout enskripsyon ki pèmèt pou kounye a. Sèvi ak enskripsyon ou genyen an, oswa eseye ankò apre tan yo montre a.',
      ru: 'С этого телефона уже сделано максимально допустимое число регистраций. Используйте существующую регистрацию или повторите попытку через указанное время.'
    }
  },
  GW_ERR_REG_VELOCITY: {
    status: 429,
    messages: {
      en: 'Registrations from this phone are coming too fast. Wait the number of seconds shown before registering again.',
      es: 'Los registros desde este teléfono llegan demasiado rápido. Espere los segundos indicados antes de registrarse de nuevo.',
      ht: 'Enskripsyon ki soti nan telefòn sa a ap vini twò vit. Tann kantite segonn yo montre a anvan ou enskri ankò.',
      ru: 'С этого телефона регистрации поступают слишком часто. Подождите указанное число секунд, прежде чем регистрироваться снова.'
    }
  },
  GW_ERR_REG_SUBJECT_LIMIT: {
    status: 429,
    messages: {
      en: 'Your account has made as many registrations as allowed for now. Use the registration you already have, or try again after the time shown.',
      es: 'Su cuenta ya hizo todos los registros permitidos por ahora. Use el registro que ya tiene o inténtelo después del tiempo indicado.',
      ht: 'Kont ou deja fè tout enskripsyon ki pèmèt pou kounye a. Sèvi ak enskripsyon ou genyen an, oswa eseye ankò apre tan yo montre a.',
      ru: 'Ваша учётная запись уже сделала максимально допустимое число регистраций. Используйте существующую регистрацию или повторите попытку через указанное время.'
    }
  },
  GW_ERR_REG_IP_LIMIT: {
    status: 429,
    messages: {
      en: 'Too many registrations are coming from your network right now. Try again after the time shown, or from another connection.',
      es: 'Llegan demasiados registros desde su red en este momento. Inténtelo después del tiempo indicado o desde otra conexión.',
      ht: 'Twòp enskripsyon ap soti nan rezo ou a kounye a. Eseye ankò apre tan yo montre a, oswa ak yon lòt koneksyon.',
      ru: 'Из вашей сети сейчас поступает слишком много регистраций. Повторите попытку через указанное время или через другое подключение.'
    }
  },
  GW_ERR_REG_DUPLICATE_IDENTITY: {
    status: 409,
    messages: {
      en: 'A person in this group is already part of an active registration. Each person can be in one registration only; withdraw the other one first, or contact support if you did not make it.',
      es: 'Una persona de este grupo ya forma parte de un registro activo. Cada persona puede estar en un solo registro; retire primero el otro o comuníquese con soporte si usted no lo hizo.',
      ht: 'Yon moun nan gwoup sa a deja fè pati yon enskripsyon ki aktif. Chak moun ka nan yon sèl enskripsyon; retire lòt la anvan, oswa kontakte sipò si se pa ou ki te fè l.',
      ru: 'Один из членов этой группы уже включён в действующую регистрацию. Каждый человек может быть только в одной регистрации; сначала отзовите другую или обратитесь в поддержку, если её сделали не вы.'
    }
  },
  GW_ERR_REG_SUBJECT_BLOCKED: {
    status: 403,
    messages: {
      en: 'This account cannot make new registrations for now because of repeated conflicts. Contact support to have it reviewed.',
      es: 'Esta cuenta no puede hacer registros nuevos por ahora debido a conflictos repetidos. Comuníquese con soporte para que la revisen.',
      ht: 'Kont sa a pa ka fè nouvo enskripsyon pou kounye a akòz plizyè konfli. Kontakte sipò pou yo revize l.',
      ru: 'С этой учётной записи пока нельзя создавать регистрации из-за повторяющихся конфликтов. Обратитесь в поддержку для проверки.'
    }
  },
  GW_ERR_REG_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'This registration was not found. Check you are signed in with the account that made it.',
      es: 'No se encontró este registro. Verifique que inició sesión con la cuenta que lo hizo.',
      ht: 'Nou pa jwenn enskripsyon sa a. Verifye ou konekte ak kont ki te fè l la.',
      ru: 'Регистрация не найдена. Убедитесь, что вы вошли в ту учётную запись, с которой она была сделана.'
    }
  },
  GW_ERR_REQ_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'This appointment request was not found. Check you are signed in with the account that made it.',
      es: 'No se encontró esta solicitud de cita. Verifique que inició sesión con la cuenta que la hizo.',
      ht: 'Nou pa jwenn demann randevou sa a. Verifye ou konekte ak kont ki te fè l la.',
      ru: 'Запрос на запись не найден. Убедитесь, что вы вошли в ту учётную запись, с которой он был сделан.'
    }
  },
  GW_ERR_REQ_WINDOW_CLOSED: {
    status: 409,
    messages: {
      en: 'Appointment requests are not being accepted right now. Come back when the request window opens; the time is shown.',
      es: 'En este momento no se aceptan solicitudes de cita. Vuelva cuando se abra el periodo de solicitudes; se indica la hora.',
      ht: 'Yo pa aksepte demann randevou kounye a. Tounen lè fenèt demann yo louvri; lè a make.',
      ru: 'Сейчас запросы на запись не принимаются. Возвращайтесь, когда откроется приём; время указано.'
    }
  },
  GW_ERR_GEO_OUTSIDE: {
    status: 403,
    messages: {
      en: 'Requests can only be made from central or northern Mexico, north of Mexico City. Your phone reports a location outside that area; try again from there with location turned on.',
      es: 'Las solicitudes solo pueden hacerse desde el centro o el norte de México, al norte de la Ciudad de México. Su teléfono indica una ubicación fuera de esa zona; inténtelo desde allí con la ubicación activada.',
      ht: 'Ou ka fè demann sèlman depi santral oswa nò Meksik, nan nò Vil Meksik. Telefòn ou montre yon kote ki andeyò zòn sa a; eseye ankò depi la ak lokalizasyon an aktive.',
      ru: 'Запросы можно подавать только из центральной или северной Мексики, севернее Мехико. Телефон сообщает местоположение вне этой зоны; повторите попытку оттуда с включённой геолокацией.'
    }
  },
  GW_ERR_GEO_IMPRECISE: {
    status: 403,
    messages: {
      en: 'Your location is not precise enough. Turn on precise location for the app, step outside if you can, and try again.',
      es: 'Su ubicación no es lo bastante precisa. Active la ubicación precisa para la aplicación, salga al exterior si puede e inténtelo de nuevo.',
      ht: 'Lokalizasyon ou pa presi ase. Aktive lokalizasyon presi pou aplikasyon an, soti deyò si ou kapab, epi eseye ankò.',
      ru: 'Ваше местоположение определено недостаточно точно. Включите точную геолокацию для приложения, по возможности выйдите на улицу и повторите попытку.'
    }
  },
  GW_ERR_ALLOC_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'No draw has run for this date. Check the date, or run the draw first.',
      es: 'No se ha realizado ningún sorteo para esta fecha. Revise la fecha o realice primero el sorteo.',
      ht: 'Pa gen tiraj ki fèt pou dat sa a. Verifye dat la, oswa fè tiraj la anvan.',
      ru: 'Розыгрыш на эту дату не проводился. Проверьте дату или сначала проведите розыгрыш.'
    }
  },
  GW_ERR_ALLOC_IN_PROGRESS: {
    status: 409,
    messages: {
      en: 'The draw for this date is running now. Ask again in a minute for its result.',
      es: 'El sorteo de esta fecha está en curso. Vuelva a consultar en un minuto para ver el resultado.',
      ht: 'Tiraj pou dat sa a ap fèt kounye a. Mande ankò nan yon minit pou rezilta a.',
      ru: 'Розыгрыш на эту дату идёт прямо сейчас. Запросите результат через минуту.'
    }
  },
  GW_ERR_ALLOC_TOO_EARLY: {
    status: 409,
    messages: {
      en: 'The request window for this date has not closed yet, so its pool cannot be sealed or drawn. Try again after the time in Retry-After.',
      es: 'La ventana de solicitudes de esta fecha aún no se ha cerrado, así que su grupo no se puede sellar ni sortear. Vuelva a intentarlo después del tiempo indicado en Retry-After.',
      ht: 'Fenèt demann pou dat sa a poko fèmen, kidonk yo pa ka sele ni fè tiraj pou gwoup li a. Eseye ankò apre tan ki nan Retry-After la.',
      ru: 'Окно приёма заявок на эту дату ещё не закрылось, поэтому пул нельзя запечатать или разыграть. Повторите попытку после времени, указанного в Retry-After.'
    }
  },
  GW_ERR_ALLOC_BEACON_CONFLICT: {
    status: 409,
    messages: {
      en: 'This draw already has a different beacon, or has already run. A beacon can be set once, after the pool is sealed and before the draw.',
      es: 'Este sorteo ya tiene otro valor de baliza o ya se realizó. La baliza se puede fijar una sola vez, después de sellar el grupo y antes del sorteo.',
      ht: 'Tiraj sa a gen yon lòt beacon deja, oswa li fin fèt deja. Yo ka mete yon beacon yon sèl fwa, apre gwoup la sele e anvan tiraj la.',
      ru: 'У этого розыгрыша уже задано другое значение маяка, или розыгрыш уже проведён. Маяк можно задать один раз: после запечатывания пула и до розыгрыша.'
    }
  },
  GW_ERR_OUTBOX_DEAD_LETTER_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'There is no such dead letter. Take its id from GET /v1/ops/outbox.',
      es: 'No existe esa carta muerta. Tome su identificador de GET /v1/ops/outbox.',
      ht: 'Pa gen lèt mouri konsa. Pran idantifyan li nan GET /v1/ops/outbox.',
      ru: 'Такого недоставленного события нет. Возьмите его идентификатор из GET /v1/ops/outbox.'
    }
  },
  GW_ERR_WR_ROOM_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'There is no waiting room by that name. Check the link you were given.',
      es: 'No hay una sala de espera con ese nombre. Revise el enlace que recibió.',
      ht: 'Pa gen sal datant ki rele konsa. Verifye lyen yo te ba ou a.',
      ru: 'Зала ожидания с таким названием нет. Проверьте полученную ссылку.'
    }
  },
  GW_ERR_WR_TICKET_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'This waiting-room ticket was not found, or it belongs to another account. Open the app again to get your place in line.',
      es: 'No se encontró este turno de la sala de espera, o pertenece a otra cuenta. Abra la aplicación de nuevo para obtener su lugar en la fila.',
      ht: 'Nou pa jwenn tikè sal datant sa a, oswa li pou yon lòt kont. Louvri aplikasyon an ankò pou w jwenn plas ou nan liy lan.',
      ru: 'Талон зала ожидания не найден или принадлежит другой учётной записи. Откройте приложение снова, чтобы получить своё место в очереди.'
    }
  },
  GW_ERR_LIVENESS_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'This photo check was not found. Check the link, and that you are signed in with the account that uploaded the photo.',
      es: 'No se encontró esta verificación de foto. Revise el enlace y que inició sesión con la cuenta que subió la foto.',
      ht: 'Nou pa jwenn verifikasyon foto sa a. Verifye lyen an, epi verifye ou konekte ak kont ki te voye foto a.',
      ru: 'Проверка фото не найдена. Проверьте ссылку и то, что вы вошли в учётную запись, с которой загружали фото.'
    }
  },
  GW_ERR_LIVENESS_MEMBER_UNKNOWN: {
    status: 422,
    messages: {
      en: 'This registration has no person at that position. Choose the person in the photo from the list of your group.',
      es: 'Este registro no tiene ninguna persona en esa posición. Elija a la persona de la foto en la lista de su grupo.',
      ht: 'Enskripsyon sa a pa gen moun nan pozisyon sa a. Chwazi moun ki nan foto a nan lis gwoup ou a.',
      ru: 'В этой регистрации нет человека под таким номером. Выберите человека на фото из списка вашей группы.'
    }
  },
  GW_ERR_LIVENESS_PHOTO_EMPTY: {
    status: 400,
    messages: {
      en: 'The photo is empty. Take the photo again and send it.',
      es: 'La foto está vacía. Tome la foto de nuevo y envíela.',
      ht: 'Foto a vid. Pran foto a ankò epi voye l.',
      ru: 'Фото пустое. Сделайте снимок ещё раз и отправьте его.'
    }
  },
  GW_ERR_LIVENESS_PHOTO_TOO_LARGE: {
    status: 413,
    messages: {
      en: 'The photo is too large. Take it with the app\'s camera, which sends a smaller file, and try again.',
      es: 'La foto es demasiado grande. Tómela con la cámara de la aplicación, que envía un archivo más pequeño, e inténtelo de nuevo.',
      ht: 'Foto a twò gwo. Pran l ak kamera aplikasyon an, ki voye yon fichye ki pi piti, epi eseye ankò.',
      ru: 'Фото слишком большое. Сделайте снимок камерой приложения — она отправляет файл меньшего размера — и попробуйте снова.'
    }
  },
  GW_ERR_LIVENESS_PHOTO_FORMAT: {
    status: 415,
    messages: {
      en: 'This file is not a JPEG or PNG photo. Take a photo with the app\'s camera and send that.',
      es: 'Este archivo no es una foto JPEG ni PNG. Tome una foto con la cámara de la aplicación y envíela.',
      ht: 'Fichye sa a pa yon foto JPEG oswa PNG. Pran yon foto ak kamera aplikasyon an epi voye l.',
      ru: 'Этот файл не является фотографией JPEG или PNG. Сделайте снимок камерой приложения и отправьте его.'
    }
  },
  GW_ERR_LIVENESS_PHOTO_UNREADABLE: {
    status: 422,
    messages: {
      en: 'The photo could not be read; it may have been cut off while sending. Take the photo again and send it on a steady connection.',
      es: 'No se pudo leer la foto; puede que se cortara al enviarla. Tome la foto de nuevo y envíela con una conexión estable.',
      ht: 'Nou pa t ka li foto a; li ka koupe pandan l t ap voye. Pran foto a ankò epi voye l ak yon koneksyon ki estab.',
      ru: 'Не удалось прочитать фото: возможно, оно оборвалось при отправке. Сделайте снимок ещё раз и отправьте его при стабильном соединении.'
    }
  },
  GW_ERR_LIVENESS_PHOTO_DIMENSIONS: {
    status: 422,
    messages: {
      en: 'The photo is too small or too large in pixels. Use the app\'s camera at its normal setting, without cropping or zooming.',
      es: 'La foto tiene muy pocos o demasiados píxeles. Use la cámara de la aplicación en su modo normal, sin recortar ni ampliar.',
      ht: 'Foto a gen twò piti oswa twòp piksèl. Sèvi ak kamera aplikasyon an nan paramèt nòmal li, san koupe ni agrandi.',
      ru: 'Фото слишком маленькое или слишком большое по числу пикселей. Снимайте камерой приложения в обычном режиме, без обрезки и увеличения.'
    }
  },
  GW_ERR_LIVENESS_TOO_DARK: {
    status: 422,
    messages: {
      en: 'The photo is too dark. Face a light source, such as a window or a lamp in front of you, and take the photo again.',
      es: 'La foto está demasiado oscura. Colóquese frente a una fuente de luz, como una ventana o una lámpara delante de usted, y tome la foto de nuevo.',
      ht: 'Foto a twò fè nwa. Mete figi ou anfas yon limyè, tankou yon fenèt oswa yon lanp devan ou, epi pran foto a ankò.',
      ru: 'Фото слишком тёмное. Встаньте лицом к источнику света, например к окну или лампе перед вами, и сделайте снимок снова.'
    }
  },
  GW_ERR_LIVENESS_TOO_BRIGHT: {
    status: 422,
    messages: {
      en: 'The photo is too bright and your face is washed out. Move out of direct sunlight or away from a strong lamp, and take the photo again.',
      es: 'La foto está demasiado clara y su rostro no se distingue. Apártese de la luz directa del sol o de una lámpara fuerte y tome la foto de nuevo.',
      ht: 'Foto a twò klere e nou pa ka wè figi ou byen. Soti anba solèy dirèk oswa lwen yon lanp ki fò, epi pran foto a ankò.',
      ru: 'Фото слишком светлое, лицо засвечено. Уйдите с прямого солнца или от яркой лампы и сделайте снимок снова.'
    }
  },
  GW_ERR_LIVENESS_BACKLIT: {
    status: 422,
    messages: {
      en: 'The light is behind you, so your face is in shadow. Turn around so the light falls on your face, and take the photo again.',
      es: 'La luz está detrás de usted y su rostro queda en sombra. Dé la vuelta para que la luz le dé en la cara y tome la foto de nuevo.',
      ht: 'Limyè a dèyè ou, kidonk figi ou nan lonbraj. Vire pou limyè a tonbe sou figi ou, epi pran foto a ankò.',
      ru: 'Свет падает сзади, и лицо оказалось в тени. Повернитесь так, чтобы свет падал на лицо, и сделайте снимок снова.'
    }
  },
  GW_ERR_LIVENESS_BLURRED: {
    status: 422,
    messages: {
      en: 'The photo is blurred. Hold the phone still at arm\'s length, wipe the camera lens, and take the photo again.',
      es: 'La foto está borrosa. Sostenga el teléfono quieto con el brazo extendido, limpie el lente de la cámara y tome la foto de nuevo.',
      ht: 'Foto a twoub. Kenbe telefòn nan san bouje, men ou lonje, siye lantiy kamera a, epi pran foto a ankò.',
      ru: 'Фото размыто. Держите телефон неподвижно на вытянутой руке, протрите объектив камеры и сделайте снимок снова.'
    }
  },
  GW_ERR_LIVENESS_NOT_LIVE: {
    status: 422,
    messages: {
      en: 'The check could not confirm a live person in the photo. Take a new photo of your face, in good light, looking at the camera, and send it.',
      es: 'La verificación no pudo confirmar a una persona real en la foto. Tome una foto nueva de su rostro, con buena luz y mirando a la cámara, y envíela.',
      ht: 'Verifikasyon an pa t ka konfime se yon moun vivan ki nan foto a. Pran yon nouvo foto figi ou, nan bon limyè, w ap gade kamera a, epi voye l.',
      ru: 'Проверка не подтвердила, что на фото живой человек. Сделайте новый снимок лица при хорошем освещении, глядя в камеру, и отправьте его.'
    }
  },
  GW_ERR_LIVENESS_EXPIRED: {
    status: 422,
    messages: {
      en: 'Your photo waited too long to be checked and was deleted. Take a new photo and send it.',
      es: 'Su foto esperó demasiado para ser verificada y se eliminó. Tome una foto nueva y envíela.',
      ht: 'Foto ou a tann twò lontan pou yo verifye l, e yo efase l. Pran yon nouvo foto epi voye l.',
      ru: 'Ваше фото слишком долго ждало проверки и было удалено. Сделайте новый снимок и отправьте его.'
    }
  },
  GW_ERR_LIVENESS_BUSY: {
    status: 503,
    messages: {
      en: 'Many photos are being checked right now. Your photo was not sent; keep it and try again after the time shown.',
      es: 'Ahora mismo se están verificando muchas fotos. Su foto no se envió; consérvela e inténtelo de nuevo después del tiempo indicado.',
      ht: 'Gen anpil foto y ap verifye kounye a. Foto ou a pa t voye; kenbe l epi eseye ankò apre tan yo montre a.',
      ru: 'Сейчас проверяется очень много фото. Ваше фото не отправлено: сохраните его и попробуйте снова через указанное время.'
    }
  },
  GW_ERR_LIVENESS_BUDGET: {
    status: 503,
    messages: {
      en: 'Photo checks are paused because this service has used all the checks it has for now. Your photo was not sent; please try again in a few days.',
      es: 'Las verificaciones de fotos están en pausa porque este servicio usó todas las que tiene por ahora. Su foto no se envió; inténtelo de nuevo en unos días.',
      ht: 'Verifikasyon foto yo kanpe pou kounye a paske sèvis la fin itilize tout verifikasyon li genyen. Foto ou a pa t voye; tanpri eseye ankò nan kèk jou.',
      ru: 'Проверка фото приостановлена: сервис израсходовал все доступные сейчас проверки. Ваше фото не отправлено; попробуйте снова через несколько дней.'
    }
  },
  GW_ERR_APPT_NOT_FOUND: {
    status: 404,
    messages: {
      en: 'This appointment was not found. Check the confirmation number and that you are signed in with the account that asked for it.',
      es: 'No se encontró esta cita. Revise el número de confirmación y que inició sesión con la cuenta que la solicitó.',
      ht: 'Nou pa jwenn randevou sa a. Verifye nimewo konfimasyon an, epi verifye ou konekte ak kont ki te mande l la.',
      ru: 'Запись не найдена. Проверьте номер подтверждения и то, что вы вошли в учётную запись, с которой она была запрошена.'
    }
  },
  GW_ERR_APPT_EXPIRED: {
    status: 409,
    messages: {
      en: 'The time to confirm this appointment has passed and the place was released. You may ask for a new appointment.',
      es: 'El plazo para confirmar esta cita terminó y el lugar se liberó. Puede solicitar una cita nueva.',
      ht: 'Tan pou konfime randevou sa a pase, e plas la te lage. Ou ka mande yon nouvo randevou.',
      ru: 'Срок подтверждения этой записи истёк, и место освобождено. Вы можете запросить новую запись.'
    }
  },
  GW_ERR_APPT_LIVENESS_REQUIRED: {
    status: 409,
    messages: {
      en: 'Each person in this group needs a live photo check that passed after you were selected. Take the photo checks in the app, then confirm again.',
      es: 'Cada persona de este grupo necesita una verificación con foto en vivo aprobada después de su selección. Haga las verificaciones en la aplicación y confirme de nuevo.',
      ht: 'Chak moun nan gwoup sa a bezwen yon verifikasyon foto an dirèk ki pase apre yo te chwazi w. Fè verifikasyon foto yo nan aplikasyon an, epi konfime ankò.',
      ru: 'Каждому человеку в этой группе нужна проверка живого фото, пройденная после того, как вас выбрали. Пройдите проверки в приложении и подтвердите снова.'
    }
  },

  GW_ERR_APPT_EXTENSION_USED: {
    status: 409,
    messages: {
      en: 'This appointment has already been extended as many times as allowed. Confirm it before the time shown.',
      es: 'Esta cita ya se extendió todas las veces permitidas. Confírmela antes de la hora indicada.',
      ht: 'Randevou sa a deja pwolonje otan fwa ki pèmèt. Konfime l anvan lè yo montre a.',
      ru: 'Срок этой записи уже продлевался максимально допустимое число раз. Подтвердите её до указанного времени.'
    }
  },
  GW_ERR_SERVER_INTERNAL: {
    status: 500,
    messages: {
      en: 'Something went wrong on our side. Try again in a few minutes; if it keeps happening, contact support.',
      es: 'Algo salió mal de nuestro lado. Inténtelo de nuevo en unos minutos; si sigue ocurriendo, comuníquese con soporte.',
      ht: 'Yon bagay mal pase bò kote nou. Eseye ankò nan kèk minit; si sa kontinye rive, kontakte sipò.',
      ru: 'У нас что-то пошло не так. Повторите попытку через несколько минут; если ошибка повторяется, обратитесь в поддержку.'
    }
  }
} as const satisfies Record<`GW_ERR_${string}`, ErrorDefinition>

export type ErrorCode = keyof typeof ERRORS

/** The JSON body of every error response. */
export interface ErrorBody {
  code: ErrorCode
  message: string
  retryAfterSeconds?: number
  /** When the request window next opens (ISO 8601), with GW_ERR_REQ_WINDOW_CLOSED. */
  nextOpenAt?: string
  /** JSON pointers of the fields that failed validation; never their values. */
  fields?: string[]
}

export interface GatewayErrorOptions {
  retryAfterSeconds?: number
  nextOpenAt?: string
  fields?: string[]
  cause?: unknown
}

/** An error meant for the client: thrown anywhere, rendered by the error-handler plugin. */
export class GatewayError extends Error {
  readonly code: ErrorCode
  readonly statusCode: number
  readonly retryAfterSeconds: number | undefined
  readonly fields: string[] | undefined
  readonly nextOpenAt: string | undefined

  constructor (code: ErrorCode, options: GatewayErrorOptions = {}) {
    // The English text doubles as the Error message, so logs stay readable without personal data.
    super(ERRORS[code].messages.en, { cause: options.cause })
    this.name = 'GatewayError'
    this.code = code
    this.statusCode = ERRORS[code].status
    this.retryAfterSeconds = options.retryAfterSeconds
    this.fields = options.fields
    this.nextOpenAt = options.nextOpenAt
  }

  toBody (language: Language): ErrorBody {
    const body: ErrorBody = { code: this.code, message: ERRORS[this.code].messages[language] }
    if (this.retryAfterSeconds !== undefined) body.retryAfterSeconds = this.retryAfterSeconds
    if (this.fields !== undefined) body.fields = this.fields
    if (this.nextOpenAt !== undefined) body.nextOpenAt = this.nextOpenAt
    return body
  }
}
