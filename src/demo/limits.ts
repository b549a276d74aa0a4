// The dashboard's size limits, in one module of plain numbers that the page, the schemas and the
// server all read.

/** How long an incident update's text may be. */
export const MAX_UPDATE_LENGTH = 280;

/** How many checks a monitor keeps for its sparkline. */
export const CHECKS_KEPT = 60;
/** How much status history a monitor keeps for its uptime bar, in ms. */
export const UPTIME_WINDOW = 60 * 60 * 1000;

/** How many entries an incident's timeline holds at most: opened, acknowledged, updates, resolved. */
export const MAX_TIMELINE = 30;

/** How many status changes a monitor carries at most: a fast flapping one drops its oldest. */
export const MAX_SPANS = 500;

/** How long an incident's title may be. */
export const MAX_TITLE_LENGTH = 120;

/** How many incidents one account may have open: a form posted in a loop must not grow it forever. */
export const MAX_OPEN_INCIDENTS = 50;
