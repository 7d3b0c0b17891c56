// Name and place material for the synthetic population, by language group. Common given names and
// family names of the countries the 2023 applicants came from; US streets and towns near the
// ports of entry and in the cities where arrivals settled. Invented combinations of real, common
// parts: no row describes a real person.

export interface LanguageGroup {
  /** BCP 47 tag the registration asks for. */
  language: string
  /** ISO 3166-1 alpha-3 nationalities, most frequent first. */
  nationalities: readonly string[]
  given: readonly string[]
  family: readonly string[]
  /** Spanish naming: two family names, the father's and the mother's. */
  compound: boolean
}

const SPANISH_GIVEN = ['José', 'María', 'Luis', 'Ana', 'Carlos', 'Carmen', 'Juan', 'Rosa', 'Jorge', 'Luz', 'Miguel', 'Yenny', 'Pedro', 'Daniela', 'Andrés', 'Yolanda', 'Jesús', 'Gabriela', 'Rafael', 'Marisol', 'Ángel', 'Valentina', 'Óscar', 'Mariela', 'Yeferson', 'Génesis', 'Wilmer', 'Yusmary', 'Eduardo', 'Milagros', 'Ramón', 'Dayana', 'Alexis', 'Keila', 'Héctor', 'Nairobis', 'Víctor', 'Isabel', 'Fernando', 'Lucía']
const SPANISH_FAMILY = ['García', 'Rodríguez', 'Martínez', 'Hernández', 'López', 'González', 'Pérez', 'Sánchez', 'Ramírez', 'Torres', 'Flores', 'Rivera', 'Gómez', 'Díaz', 'Morales', 'Reyes', 'Cruz', 'Ortiz', 'Gutiérrez', 'Chávez', 'Ramos', 'Vargas', 'Castillo', 'Jiménez', 'Moreno', 'Romero', 'Herrera', 'Medina', 'Aguilar', 'Vásquez', 'Castro', 'Mendoza', 'Guzmán', 'Rojas', 'Salazar', 'Contreras', 'Peña', 'Figueroa', 'Acosta', 'Marrero']
const HAITIAN_GIVEN = ['Jean', 'Marie', 'Pierre', 'Rose', 'Jacques', 'Nadège', 'Wilner', 'Guerline', 'Fritz', 'Mirlande', 'Jean-Baptiste', 'Roseline', 'Ricardo', 'Wislande', 'Dieuseul', 'Fabiola', 'Jocelyn', 'Nathalie', 'Emmanuel', 'Djenane', 'Frantz', 'Edeline', 'Wilfrid', 'Lovely', 'Stanley', 'Kettly', 'Junior', 'Fedna', 'Reginald', 'Magalie']
const HAITIAN_FAMILY = ['Jean-Louis', 'Pierre', 'Joseph', 'Charles', 'Louis', 'Baptiste', 'Jean-Baptiste', 'Francois', 'Saint-Fleur', 'Desir', 'Augustin', 'Etienne', 'Michel', 'Noel', 'Paul', 'Alexis', 'Dorvil', 'Exantus', 'Fleurimond', 'Guerrier', 'Jeune', 'Lafortune', 'Metellus', 'Petit-Frere', 'Philogene', 'Regis', 'Sanon', 'Thelusma', 'Valcourt', 'Zephir', 'Altidor', 'Belizaire', 'Cadet', 'Dorsainvil', 'Estime', 'Fils-Aime', 'Georges', 'Hyppolite', 'Innocent', 'Jolicoeur', 'Laguerre', 'Mondesir', 'Nelson', 'Ovide', 'Prophete', 'Romulus', 'Severe', 'Toussaint', 'Vilsaint', 'Polynice']
const RUSSIAN_GIVEN = ['Aleksandr', 'Elena', 'Dmitrii', 'Olga', 'Sergei', 'Natalia', 'Andrei', 'Irina', 'Mikhail', 'Tatiana', 'Ivan', 'Svetlana', 'Nikolai', 'Anna', 'Vladimir', 'Ekaterina', 'Pavel', 'Maria', 'Oleg', 'Iuliia', 'Artem', 'Anastasiia', 'Maksim', 'Daria', 'Roman', 'Kseniia', 'Timur', 'Aigerim', 'Ruslan', 'Madina']
const RUSSIAN_FAMILY = ['Ivanov', 'Smirnov', 'Kuznetsov', 'Popov', 'Vasilev', 'Petrov', 'Sokolov', 'Mikhailov', 'Novikov', 'Fedorov', 'Morozov', 'Volkov', 'Alekseev', 'Lebedev', 'Semenov', 'Egorov', 'Pavlov', 'Kozlov', 'Stepanov', 'Nikolaev', 'Orlov', 'Andreev', 'Makarov', 'Nikitin', 'Zakharov', 'Zaitsev', 'Soloviev', 'Borisov', 'Iakovlev', 'Grigorev', 'Romanov', 'Vorobev', 'Sergeev', 'Kovalenko', 'Bondarenko', 'Shevchenko', 'Tkachenko', 'Kravchenko', 'Aliev', 'Nurlanov', 'Abdullaev', 'Tsoi', 'Kim', 'Galiev', 'Sadykov']
const ENGLISH_GIVEN = ['Michael', 'Grace', 'David', 'Mary', 'Samuel', 'Esther', 'Daniel', 'Ruth', 'Kwame', 'Abena', 'Chinedu', 'Ngozi', 'Tyrone', 'Shanice', 'Andre', 'Keisha']
const ENGLISH_FAMILY = ['Brown', 'Campbell', 'Williams', 'Clarke', 'Mensah', 'Owusu', 'Okafor', 'Adeyemi', 'Thompson', 'Reid', 'Grant', 'Stewart', 'Boateng', 'Asante', 'Nwosu', 'Francis']
const OTHER_GIVEN = ['João', 'Ana', 'Mamadou', 'Fatou', 'Mehmet', 'Ayşe', 'Wei', 'Li', 'Ahmed', 'Fatima', 'Ousmane', 'Aminata', 'Rafael', 'Beatriz', 'Emre', 'Zeynep']
const OTHER_FAMILY = ['Silva', 'Santos', 'Oliveira', 'Souza', 'Diallo', 'Ndiaye', 'Sow', 'Yilmaz', 'Kaya', 'Demir', 'Wang', 'Zhang', 'Hassan', 'Mohamed', 'Ibrahim', 'Ferreira']

/**
 * The evaluation's language split of applicants (OIG-24-48): Spanish 57.7%, Haitian Creole 23.3%,
 * Russian 13.3%, English 0.7%, other 5%.
 */
export const LANGUAGE_SHARES: ReadonlyArray<readonly [LanguageGroup, number]> = [
  [{ language: 'es', nationalities: ['VEN', 'CUB', 'NIC', 'COL', 'HND', 'GTM', 'SLV', 'ECU', 'PER', 'MEX'], given: SPANISH_GIVEN, family: SPANISH_FAMILY, compound: true }, 0.577],
  [{ language: 'ht', nationalities: ['HTI'], given: HAITIAN_GIVEN, family: HAITIAN_FAMILY, compound: false }, 0.233],
  [{ language: 'ru', nationalities: ['RUS', 'UKR', 'KAZ', 'UZB', 'KGZ'], given: RUSSIAN_GIVEN, family: RUSSIAN_FAMILY, compound: false }, 0.133],
  [{ language: 'en', nationalities: ['JAM', 'GHA', 'NGA'], given: ENGLISH_GIVEN, family: ENGLISH_FAMILY, compound: false }, 0.007],
  [{ language: 'pt', nationalities: ['BRA', 'SEN', 'TUR', 'CHN', 'MRT', 'AGO'], given: OTHER_GIVEN, family: OTHER_FAMILY, compound: false }, 0.05]
]

/** Streets, each a name and a suffix written out in full (the address writer abbreviates). */
export const STREETS: ReadonlyArray<readonly [string, string]> = [
  ['Main', 'Street'], ['Oak', 'Avenue'], ['Magnolia', 'Drive'], ['Palm', 'Boulevard'], ['Mesquite', 'Lane'], ['Cedar', 'Road'],
  ['Washington', 'Avenue'], ['Lincoln', 'Street'], ['Rio Grande', 'Boulevard'], ['Pecan', 'Court'], ['Elm', 'Street'], ['Sunset', 'Drive'],
  ['Park', 'Place'], ['Jefferson', 'Avenue'], ['Maple', 'Lane'], ['Alamo', 'Street'], ['Bougainvillea', 'Way'], ['Harbor', 'Road'],
  ['Flagler', 'Street'], ['Ocean', 'Avenue'], ['Liberty', 'Street'], ['Franklin', 'Avenue'], ['Highland', 'Road'], ['Church', 'Street'],
  ['Mission', 'Street'], ['Willow', 'Drive'], ['Bayview', 'Avenue'], ['Hillcrest', 'Road'], ['Jackson', 'Street'], ['Pine', 'Court']
]

/** Towns with their state and the first three digits of their ZIP codes. */
export const TOWNS: ReadonlyArray<readonly [string, string, string]> = [
  ['Brownsville', 'TX', '785'], ['El Paso', 'TX', '799'], ['San Antonio', 'TX', '782'], ['Houston', 'TX', '770'], ['Laredo', 'TX', '780'],
  ['San Diego', 'CA', '921'], ['Los Angeles', 'CA', '900'], ['Tucson', 'AZ', '857'], ['Phoenix', 'AZ', '850'], ['Miami', 'FL', '331'],
  ['Orlando', 'FL', '328'], ['New York', 'NY', '100'], ['Brooklyn', 'NY', '112'], ['Newark', 'NJ', '071'], ['Boston', 'MA', '021'],
  ['Brockton', 'MA', '023'], ['Chicago', 'IL', '606'], ['Denver', 'CO', '802'], ['Atlanta', 'GA', '303'], ['Springfield', 'OH', '455']
]

/** Directions as written out; the address writer abbreviates some of them. */
export const DIRECTIONS = ['North', 'South', 'East', 'West'] as const
