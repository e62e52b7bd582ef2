/* roc_vala.vala: rate of change of the close, roc_vala(N), in Vala
 *
 * ROC = 100 × (close − close N periods ago) / close N periods ago, as
 * TA-Lib's ROC and StockCharts compute it. No value until N + 1 closes are
 * known, and none when the old close is 0. O(1) per update: a ring of the
 * last N closes.
 *
 * The example of a plugin written in Vala against tickhub-1.0.vapi (which
 * is generated from the GIR): a class implementing Tickhub.Indicator and
 * the libpeas entry point, nothing else.
 *
 * SPDX-License-Identifier: LGPL-2.1-or-later
 */

public class TickhubRoc.Indicator : GLib.Object, Tickhub.Indicator {
  private const uint MAX_PERIOD = 10000;

  /* The hub owns its plugins: no reference back (no cycle). */
  private unowned Tickhub.Hub? _hub;
  public Tickhub.Hub hub {
    owned get { return _hub; }
    construct { _hub = value; }
  }

  private double[] ring = {};   /* the last N closes */
  private uint head;            /* the next slot to write: the oldest close */
  private uint count;           /* closes known, up to N */
  private uint period;

  public bool configure (string[] args) throws GLib.Error {
    uint64 n;

    if (args.length != 1)
      throw new Tickhub.Error.BAD_CONFIG ("roc_vala takes one argument, the period; write it like roc_vala(12)");
    if (!uint64.try_parse (args[0], out n) || n < 1 || n > MAX_PERIOD || !args[0].get_char ().isdigit ())
      throw new Tickhub.Error.BAD_CONFIG ("roc_vala period “%s” is not a whole number from 1 to %u; write it like roc_vala(12)",
                                          args[0], MAX_PERIOD);
    period = (uint) n;
    ring = new double[period];
    head = 0;
    count = 0;
    return true;
  }

  public string[] get_outputs () {
    return { "" };   /* one output, named as configured */
  }

  private static bool roc (double now, double then, out double result) {
    result = 0;
    if (then == 0)
      return false;
    result = 100.0 * (now - then) / then;
    return true;
  }

  public void update (Tickhub.Candle candle, bool commit, Tickhub.IndicatorValues values) {
    double x = candle.close;
    double r = 0;

    if (period == 0 || !x.is_finite ())
      return;
    /* Once N closes are known, the slot about to be overwritten holds the
     * close N periods before the one arriving. */
    bool full = count >= period;
    if (!commit) {
      /* The forming candle as if it were the next close; state unchanged. */
      if (full && roc (x, ring[head], out r))
        values.set (0, r);
      return;
    }
    double oldest = ring[head];
    ring[head] = x;
    head = (head + 1) % period;
    if (!full)
      count++;
    if (full && roc (x, oldest, out r))
      values.set (0, r);
  }
}

[ModuleInit]
public void peas_register_types (GLib.TypeModule module) {
  var peas = (Peas.ObjectModule) module;

  peas.register_extension_type (typeof (Tickhub.Indicator), typeof (TickhubRoc.Indicator));
}
