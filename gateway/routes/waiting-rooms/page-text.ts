// What the waiting-room page says, in every language the gateway speaks (gateway/errors.ts
// LANGUAGES). {n}, {minutes} and {time} are filled in by the page.
import type { Language } from '../../errors.js'

export interface PageText {
  title: string
  position: string
  inDraw: string
  wait: string
  waitUnderMinute: string
  admitted: string
  continue: string
  reconnecting: string
  unknown: string
}

export const PAGE_TEXT: Record<Language, PageText> = {
  en: {
    title: 'You are in line',
    position: 'You are number {n} in line.',
    inDraw: 'The line opens at {time}. Everyone who arrives before then gets a place drawn at random: arriving earlier does not help. {n} people are in the draw.',
    wait: 'About {minutes} minutes to wait. Keep this page open: it updates by itself, there is no need to refresh.',
    waitUnderMinute: 'Less than a minute to wait. Keep this page open.',
    admitted: 'It is your turn. You can continue now.',
    continue: 'Continue',
    reconnecting: 'Connection lost. Reconnecting: your place is kept.',
    unknown: 'This ticket was not found. Open the app again to get your place in line.'
  },
  es: {
    title: 'Está en la fila',
    position: 'Usted es el número {n} en la fila.',
    inDraw: 'La fila abre a las {time}. A quienes lleguen antes se les sortea un lugar al azar: llegar antes no ayuda. Hay {n} personas en el sorteo.',
    wait: 'Faltan unos {minutes} minutos. Mantenga esta página abierta: se actualiza sola, no hace falta recargarla.',
    waitUnderMinute: 'Falta menos de un minuto. Mantenga esta página abierta.',
    admitted: 'Es su turno. Ya puede continuar.',
    continue: 'Continuar',
    reconnecting: 'Se perdió la conexión. Reconectando: su lugar se mantiene.',
    unknown: 'No se encontró este turno. Abra la aplicación de nuevo para obtener su lugar en la fila.'
  },
  ht: {
    title: 'Ou nan liy lan',
    position: 'Ou se nimewo {n} nan liy lan.',
    inDraw: 'Liy lan ouvri a {time}. Tout moun ki rive anvan sa ap jwenn yon plas pa tiraj osazò: rive pi bonè pa ede. Gen {n} moun nan tiraj la.',
    wait: 'Apeprè {minutes} minit pou tann. Kite paj sa a louvri: li mete tèt li ajou poukont li, ou pa bezwen rechaje l.',
    waitUnderMinute: 'Mwens pase yon minit pou tann. Kite paj sa a louvri.',
    admitted: 'Se tou pa w. Ou ka kontinye kounye a.',
    continue: 'Kontinye',
    reconnecting: 'Koneksyon an koupe. N ap rekonekte: plas ou toujou kenbe.',
    unknown: 'Nou pa jwenn tikè sa a. Louvri aplikasyon an ankò pou w jwenn plas ou nan liy lan.'
  },
  ru: {
    title: 'Вы в очереди',
    position: 'Ваш номер в очереди: {n}.',
    inDraw: 'Очередь откроется в {time}. Все, кто пришёл раньше, получат место по жребию: приходить раньше бесполезно. В жеребьёвке {n} человек.',
    wait: 'Ждать примерно {minutes} мин. Не закрывайте страницу: она обновляется сама, перезагружать её не нужно.',
    waitUnderMinute: 'Ждать меньше минуты. Не закрывайте страницу.',
    admitted: 'Ваша очередь. Можно продолжать.',
    continue: 'Продолжить',
    reconnecting: 'Соединение потеряно. Переподключаемся: ваше место сохранено.',
    unknown: 'Талон не найден. Откройте приложение снова, чтобы получить место в очереди.'
  }
}
