"""Indonesian names for the generated people, and the ways a second writing of one differs.

Word lists of East Kalimantan's mix (Bugis, Banjar, Javanese, Kutai, Dayak, Arabic-Muslim, eastern
Christians), places of birth by province, titles and degrees; the rule tables a copy's name or place is
varied by (old spelling, common variants, Muhammad's many writings); and the `names()` stage that builds every
person's name, with the look-alike names of twins, fathers and sons and common-name pairs.
"""

from __future__ import annotations

import numpy as np

from dpt_pipeline.synth.common import _join_parts, _pick, _s, _sample_k, _w
from dpt_pipeline.synth.state import _State

_ETH = ("bugis", "jawa", "banjar", "kutai", "dayak", "umum", "timur")
_MUSLIM = np.array([True, True, True, True, False, True, False])
_TOWNS = {
    73: _w("MAKASSAR UJUNG_PANDANG BONE WATAMPONE WAJO SENGKANG SOPPENG PINRANG PAREPARE BARRU SIDRAP "
           "RAPPANG PALOPO BULUKUMBA SINJAI MAKALE RANTEPAO"),
    76: _w("MAMUJU POLEWALI MAJENE"),
    72: _w("PALU POSO TOLITOLI DONGGALA"),
    35: _w("SURABAYA MALANG KEDIRI JEMBER BANYUWANGI LAMONGAN TULUNGAGUNG NGAWI MADIUN BLITAR"),
    33: _w("SEMARANG SOLO KLATEN BOYOLALI WONOGIRI PATI KEBUMEN CILACAP PURWOREJO"),
    34: _w("YOGYAKARTA SLEMAN BANTUL"),
    63: _w("BANJARMASIN MARTAPURA BARABAI AMUNTAI KANDANGAN RANTAU TANJUNG"),
    62: _w("PALANGKA_RAYA SAMPIT MUARA_TEWEH"),
    32: _w("BANDUNG GARUT TASIKMALAYA CIREBON"),
    31: _w("JAKARTA"),
    13: _w("PADANG BUKITTINGGI"),
    71: _w("MANADO"),
    52: _w("MATARAM BIMA LOMBOK"),
    53: _w("KUPANG ENDE MAUMERE LARANTUKA ATAMBUA FLORES"),
}
_TOWNS = {k: [t.replace("_", " ") for t in v] for k, v in _TOWNS.items()}
_LOCAL_TOWNS = {
    0: _w("SANGATTA SANGATTA SANGATTA SANGATA TELUK_PANDAN SAMARINDA BONTANG TENGGARONG MUARA_WAHAU "
          "SANGKULIRANG BENGALON KUTAI_TIMUR"),
    1: _w("BONTANG BONTANG BONTANG BONTANG SAMARINDA BALIKPAPAN TENGGARONG SANGATTA"),
    2: _w("MUARA_BADAK MUARA_BADAK MARANG_KAYU MARANG_KAYU TENGGARONG SAMARINDA ANGGANA BONTANG SANTAN "
          "KUTAI_KARTANEGARA"),
}
_LOCAL_TOWNS = {k: [t.replace("_", " ") for t in v] for k, v in _LOCAL_TOWNS.items()}

_UMUM_M = _w(
    "RIDWAN YUSUF ALI FAUZI RAHMAN HASAN HUSAIN IBRAHIM ISMAIL HIDAYAT IRFAN RIZKI SYAHRIR ARIF FIRDAUS "
    "HAMZAH ILHAM ZAINAL KHAIRUL FAISAL SYAIFUL RAHMAT NASRUL AMIR ANWAR BAHRUN FADLI HABIBI HAFIZ IQBAL "
    "JUNAIDI LUTFI MAHMUD MUSLIM NASIR RAFI SALEH SOLEH TAUFIK UMAR USMAN YAHYA ZAKARIA ZULKIFLI ARSYAD "
    "AZHAR FIKRI GHAZALI HENDRA AGUS DARMAWAN FAJAR DANI BUDI HERMAN RUSLAN KHALID MA'RUF SYAFI'I NYOMAN"
)
_UMUM_F = _w(
    "AMINAH AISYAH FATIMAH KHADIJAH RAHMAH HALIMAH ZAINAB HASANAH JANNAH MAISARAH MARYAM NURHAYATI NURLELA "
    "RAHMAWATI SALMAH SAFITRI WAHYUNI HIDAYAH FITRIANI KHAIRUNNISA MUNAWARAH SOFIA ZAHRA NABILA AULIA HAJAR "
    "ROSMALA ASMAWATI JUMIATI MARDIANA NURJANAH NURAINI NUR'AINI SULASTRI HARTINI DEWI RATNA SARI INDAH "
    "PUTRI YULIANA LESTARI ANISA HASNAH MULYANI ROSLINDA ERNAWATI"
)
_BUGIS_M = _w(
    "BACO BASO SYAMSUDDIN HASANUDDIN SAHARUDDIN AMIRUDDIN NURDIN KAHAR BAHAR ARIFIN JUMADI SUDIRMAN IRWAN "
    "SAMSUL HAMZAH MUSTAFA PATAHUDDIN RAHMAN MAPPE LANRE SULTAN AMBO TANG JUFRI KASMAN SULAIMAN HAERUDDIN "
    "SYAMSIR RUSDI HAMKA MUKHTAR ASRUL AKBAR ILYAS YUNUS NASRULLAH JAMALUDDIN RAHMAT ARDI ANDIKA FIRMAN"
)
_BUGIS_F = _w(
    "HASNAH HASNAWATI NURHAYATI MURNI RAHMAWATI HAJRAH NURMIATI SUHARTINI MARLINA RAHMATIA HASMAWATI "
    "SUKMAWATI NURWAHIDA KARMILA MASNIAH JUMRIAH SANNANG BECCE BUNGA NURHAEDAH HERLINA SALMAWATI MARWAH "
    "ARMAWATI FITRIANI"
)
_BANJAR_M = _w(
    "ASRAN MASRAN JUMRAN SAPRUDIN SYARIFUDDIN NORDIN MASLAN RAHMADI FAHRIANSYAH RIDUANSYAH HERIANSYAH "
    "ARBAIN ASMUNI BAHRANI GAZALI HAMDANI IRHAM JAHRI KHAIRIL MAHYUDIN NASRUN RUSMAN SAHRANI SYAHRIANSYAH "
    "ZAINUDDIN ABDULLAH ALIANSYAH HUSIN ANDRIANSYAH RAHMADANI"
)
_BANJAR_F = _w(
    "NORHAYATI NORMA NORJANAH ISLAMIAH MASLIANI NORLAILA RUSMINAH JUBAIDAH HASANAH MAHMUDAH NORMALIA SAPNAH "
    "RABIAH RUSDIANA HALIMATUS NORSIAH ASNAH FAHRIAH MURNIATI SALASIAH ZALEHA NURUL RAHIMAH"
)
_JAWA_M = _w(
    "SUPARMAN SUGIANTO SUTRISNO BAMBANG JOKO SLAMET PARJO WIDODO SUYATNO SUPRIYADI HARTONO TUKIMAN SUKARDI "
    "PURWANTO SUGENG SUBAGYO SURATMAN SUWARNO MULYONO PAIMIN SAMIJO TRIYONO WAHYUDI SUGIYONO KUSNADI SUHARTO "
    "PONIMAN SUJARWO SUPRIANTO DARMAJI EKO HERU SETIAWAN PRASETYO NUGROHO HARYANTO WIBOWO SANTOSO BUDIONO "
    "YULIANTO TEGUH AGUS RUDI DWI CAHYONO SOEPARMAN SOEGIANTO DJOKO SOEHARTO TJAHJONO SOEMARNO"
)
_JAWA_M2 = _w("PRASETYO SANTOSO NUGROHO WIBOWO SETIAWAN HARYANTO SUSILO PURNOMO WALUYO RAHARJO KURNIAWAN "
              "SAPUTRO HIDAYAT PURWANTO SUPRIYANTO")
_JAWA_F = _w(
    "SUMIATI SUPARTI TUMINAH WARSINI SUKINEM ENDANG YULIANI PARTINI SUMARNI SRIYATI TARSIH SUWARTI WAGIYEM "
    "SUNARSIH KASMINI NGATINI RUBIYEM MUJIATI SUPRIHATIN WIWIK LESTARI PURWANTI RAHAYU MULYANI WAHYUNI "
    "SUNDARI HANDAYANI SETYOWATI ASTUTI KUSUMAWATI"
)
_SRI = _w("WAHYUNI RAHAYU MULYANI LESTARI HANDAYANI SUNDARI ASTUTI PURWANTI SUMARNI HARTATI UTAMI")
_KUTAI_M = _w(
    "RUSLI MASDAR JAINUDDIN SYAHRANI ARSYAD ABDUL_MUIS KASMIRAN MASRANI IDRIS AMIR HASBI JAILANI NORDIN "
    "SYAHRIR SAPARUDDIN ASMURI HERLAN ZULKARNAIN MUKHLIS SURIANSYAH ADRIANSYAH"
)
_KUTAI_M = [t.replace("_", " ") for t in _KUTAI_M]
_KUTAI_F = _w("SALMAH RUSMINAH MASNAH JAINAH NORSIAH HADIJAH JAMILAH SALASIAH RUKIAH MAHDALENA ROSIDAH "
              "JAMRAH MASLIAH NORHAYATI RUSNAH HALIMAH BAHRIAH "
              "HAMIDAH SARIAH ASIAH")
_KRISTEN_M = _w(
    "YOHANES PETRUS PAULUS STEFANUS ANTONIUS MARKUS YAKOBUS FRANSISKUS MATIUS LUKAS ANDREAS YOSEF BENEDIKTUS "
    "SIMON PILIPUS RENÉ JOSÉ ANDRÉ HERONIMUS MIKAEL"
)
_KRISTEN_F = _w(
    "MARIA MARTHA ELISABETH YOHANA AGNES THERESIA VERONIKA MAGDALENA KRISTINA LUSIA MONIKA SISILIA ROSALIA "
    "BERTHA REGINA YOSEFINA KORNELIA RENÉE"
)
_DAYAK_M = _w("LUHUNG UBANG JALUNG NGAU LUWAN HIPUI BELAWING UDAU LIAH IMANG LAING LEDANG")
_DAYAK_F = _w("BUNGAN UBUNG HUNYANG INGAN LUING ISAQ")
_DAYAK_SURNAME = _w("LUHUNG LEDANG BILUNG LAHANG UBANG JALUNG NGAU LUWAN HIPUI BELAWING UDAU IMANG ANYE "
                    "LAING")
_TIMUR_SURNAME = _w("DA SILVA|FERNANDEZ|DE ROZARI|TALLO|PABURA|TANDI|PATANDUNG|SARONGALLO|RAMPA|LEWAR|KOTEN|"
                    "PANDIE|MANEK|NDUN|RATU|PARERA", "|")
_DEGREES = _w("S.PD S.PD.I S.E. S.H. S.SOS S.T. S.KOM S.AG A.MD M.M. M.PD S.KEP S.E.,M.M")
_COMMON_M = _w("MUHAMMAD RIDWAN|MUHAMMAD YUSUF|MUHAMMAD ALI|AHMAD FAUZI|ABDUL RAHMAN|MUHAMMAD IQBAL|"
               "MUHAMMAD RIZKI|AHMAD RIFAI|MUHAMMAD ARIF|ABDUL HAMID|SUPARMAN|MUHAMMAD ILHAM", "|")
_COMMON_F = _w("SITI AMINAH|SITI AISYAH|SITI FATIMAH|NUR HAYATI|SITI RAHMAH|SRI WAHYUNI|NURHAYATI|"
               "SITI KHADIJAH|NUR AINI|SITI HAJAR|SRI RAHAYU|SITI NURHALIZA", "|")
_TWINS = {  # sex pattern: (name a, name b)
    "MM": [("HASAN", "HUSEIN"), ("HASAN", "HUSAIN"), ("FAJAR", "FAJRI"), ("RIZKI", "RIZAL"),
           ("ARIF", "ARIFIN"), ("DIMAS", "DIMAN"), ("RAHMAT", "RAHMAN"), ("YUSUF", "YUNUS"),
           ("AGUS", "AGUNG"), ("ILHAM", "ILHAN")],
    "FF": [("RINA", "RINI"), ("FITRI", "FITRIA"), ("AINUN", "AINI"), ("LAILA", "LAILI"),
           ("HASANAH", "HUSNAH"), ("NIA", "NISA"), ("DEWI", "DIAN"), ("NURUL", "NURLIA")],
    "MF": [("PUTRA", "PUTRI"), ("RIZKI", "RIZKA"), ("WAHYU", "WAHYUNI"), ("DEDI", "DEWI"), ("YUDI", "YUNI"),
           ("ANDRI", "ANDRIANI")],
}
_MUHAMMAD_VARIANTS = _w("MUHAMMAD MUHAMAD MOHAMMAD MOHAMAD MOCHAMMAD MOCH. MOH. MUH. MHD. MD. M.")
_MUH_PATTERN = (r"\b(MUHAMMAD|MUHAMAD|MOHAMMAD|MOHAMAD|MOCHAMMAD|MOCHAMAD|MOCH\.|MOCH|MOHD\.|MOHD|MOH\.|MOH|"
                r"MUH\.|MUH|MHD\.|MHD|MD\.|M\.)( |$)")

# (pattern, replacement, replace all?) — regex, Rust syntax
_EJAAN_RULES: list[tuple[str, str, bool]] = [
    ("U", "OE", True), ("(^|[^D])J", "${1}DJ", True), ("C", "TJ", True), ("Y", "J", True), ("SY", "SJ", True),
    ("KH", "CH", True), ("NY", "NJ", True),
    ("OE", "U", True), ("DJ", "J", True), ("TJ", "C", True), ("SJ", "SY", True), ("NJ", "NY", True),
]
_VARIAN_RULES: list[tuple[str, str, bool]] = [
    (r"\bSITI\b", "SITTI", False), (r"\bSITTI\b", "SITI", False), (r"\bNUR\b", "NOOR", False),
    (r"\bNOOR\b", "NUR", False), (r"\bNUR\b", "NURUL", False), (r"\bDEWI\b", "DEWY", False),
    (r"\bABDUL RAHMAN\b", "ABDURRAHMAN", False), (r"\bABDURRAHMAN\b", "ABDUL RAHMAN", False),
    (r"\bABDUL\b", "ABD.", False), (r"\bZAINAL\b", "ZAENAL", False), (r"UDDIN\b", "UDIN", False),
    (r"\bAHMAD\b", "ACHMAD", False), (r"\bRAHMAT\b", "RACHMAT", False), (r"\bYUSUF\b", "YUSUP", False),
    (r"\bHASAN\b", "HASSAN", False), (r"\bNURHAYATI\b", "NUR HAYATI", False),
    (r"\bNUR HAYATI\b", "NURHAYATI", False), (r"\bFITRIANI\b", "FITRIYANI", False),
    (r"\bRATNA SARI\b", "RATNASARI", False), (r"\bHUSAIN\b", "HUSEIN", False),
    (r"\bSYAMSUL\b", "SAMSUL", False),
    (r"\bNOR", "NUR", False), (r"IANSYAH\b", "IANSAH", False), (r"\bMUHAMMAD\b", "MUHAMAD", False),
]
_TEMPAT_RULES: list[tuple[str, str, bool]] = [
    ("^UJUNG PANDANG$", "MAKASSAR", False), ("^MAKASSAR$", "UJUNG PANDANG", False),
    ("^SANGATTA$", "SANGATA", False), ("^SANGATA$", "SANGATTA", False), ("^SAMARINDA$", "SMD", False),
    ("^BALIKPAPAN$", "BPP", False), ("^YOGYAKARTA$", "JOGJAKARTA", False),
    ("^BANJARMASIN$", "BANJAR MASIN", False), ("^PALANGKA RAYA$", "PALANGKARAYA", False),
    ("^WATAMPONE$", "BONE", False), ("^BONE$", "WATAMPONE", False), ("^SURABAYA$", "SURABAJA", False),
    ("^BONTANG$", "BONTANG KOTA", False), ("^TENGGARONG$", "TENGGARONG KUKAR", False),
    ("^MUARA BADAK$", "MUARABADAK", False), ("^SIDRAP$", "SIDENRENG RAPPANG", False),
    ("^SOLO$", "SURAKARTA", False), ("^KUTAI TIMUR$", "KUTIM", False),
]


class Names(_State):
    """The names() stage."""

    def names(self) -> None:
        """Every person's name parts: body (prefix, first, given, second, surname), title, degree, bin/binti."""
        rng, P = self.rng, self.P
        eth = self.h_eth[self.hh]
        sex = self.sex
        noble = self.h_noble[self.hh]
        first = np.full(P, None, dtype=object)
        given = np.full(P, None, dtype=object)
        second = np.full(P, None, dtype=object)
        prefix = np.full(P, None, dtype=object)
        surname = np.full(P, None, dtype=object)
        u = rng.random((P, 4))

        def fill(mask: np.ndarray, target: np.ndarray, items: list[str]) -> None:
            idx = np.flatnonzero(mask)
            target[idx] = _pick(rng, items, idx.size)

        M, F = sex == 0, sex == 1
        muslim_first_m = np.select([u[:, 0] < 0.30, u[:, 0] < 0.40, u[:, 0] < 0.48],
                                   ["MUHAMMAD", "AHMAD", "ABDUL"], "")
        muslim_first_f = np.select([u[:, 0] < 0.25, u[:, 0] < 0.40], ["SITI", "NUR"], "")
        mf = np.where(M, muslim_first_m, muslim_first_f)
        # Muhammad written the regional way for some
        muh_var = _pick(rng, ["MUHAMAD", "MOHAMMAD", "MOH.", "M.", "MUH.", "MOCH."], P)
        mf = np.where((mf == "MUHAMMAD") & (u[:, 3] < 0.15), muh_var, mf)
        mf = mf.astype(object)
        mf[mf == ""] = None
        for e in range(len(_ETH)):
            E = eth == e
            if e in (0, 2, 3, 5):  # Bugis, Banjar, Kutai, Arabic-Muslim
                lm = {0: _BUGIS_M, 2: _BANJAR_M, 3: _KUTAI_M, 5: _UMUM_M}[e]
                lf = {0: _BUGIS_F, 2: _BANJAR_F, 3: _KUTAI_F, 5: _UMUM_F}[e]
                first[E] = mf[E]
                fill(E & M, given, lm)
                fill(E & F, given, lf)
                sec = E & (u[:, 1] < (0.60 if e == 5 else 0.45))
                fill(sec & M, second, _UMUM_M + lm)
                fill(sec & F, second, _UMUM_F + lf)
            elif e == 1:  # Javanese: single names common
                fj = np.full(P, None, dtype=object)
                fj[M & (u[:, 0] < 0.08)] = "MUHAMMAD"
                fj[F & (u[:, 0] < 0.15)] = "SITI"
                fj[F & (u[:, 0] >= 0.15) & (u[:, 0] < 0.40)] = "SRI"
                first[E] = fj[E]
                fill(E & M, given, _JAWA_M)
                fill(E & F & (first != "SRI"), given, _JAWA_F)
                fill(E & F & (first == "SRI"), given, _SRI)
                fill(E & M & (u[:, 1] < 0.35), second, _JAWA_M2)
            else:  # Dayak / eastern Indonesian Christians
                fill(E & M, given, _KRISTEN_M)
                fill(E & F, given, _KRISTEN_F)
                if e == 4:
                    fill(E & M & (u[:, 1] < 0.4), second, _DAYAK_M)
                    fill(E & F & (u[:, 1] < 0.4), second, _DAYAK_F)
                has_sn = E & np.where(M, u[:, 2] < 0.75, (u[:, 2] < 0.5) | (self.member == 1))
                surname[has_sn] = self.h_surname[self.hh][has_sn]
        # no "NUR NURUL ..." / "SITI SITTI ...": drop the first token when the given name repeats it
        g_s = _s(given).fill_null("")
        for tok in ("NUR", "SITI"):
            first[(first == tok) & g_s.str.starts_with(tok[:3]).to_numpy()] = None
        # nobility prefixes
        for e, pm, pf in ((0, ["ANDI"], ["ANDI"]), (2, ["GUSTI", "ANANG"], ["GUSTI", "ANTUNG", "GALUH"]),
                          (3, ["AJI", "AWANG"], ["AJI", "DAYANG"])):
            fill((eth == e) & noble & M & (self.member != 1), prefix, pm)
            fill((eth == e) & noble & F & (self.member != 1), prefix, pf)
        # old Bugis men: LA
        prefix[(eth == 0) & M & ~noble & (self.age > 60) & (u[:, 2] < 0.12)] = "LA"
        body = _join_parts([_s(prefix), _s(first), _s(given), _s(second), _s(surname)])
        self.given = given
        # a few more Bontang voters whose names need Windows-1252 (RENÉ, JOSÉ, ANDRÉ)
        bontang = np.flatnonzero((self.h_src[self.hh] == 1) & ~self.used_person & (sex == 0))
        christ = bontang[np.isin(eth[bontang], [4, 6])]
        pool = christ if christ.size >= 3 else bontang
        k = max(3, round(0.002 * bontang.size))
        pick = _sample_k(rng, pool, k)
        body.scatter(pick, _join_parts([_s(_pick(rng, ["RENÉ", "JOSÉ", "ANDRÉ"], pick.size)),
                                        _s(surname[pick])]))

        # titles and degrees
        muslim = _MUSLIM[eth]
        t = rng.random(P)
        title = np.full(P, None, dtype=object)
        title[muslim & M & (self.age >= 40) & (t < 0.13)] = "H."
        title[muslim & F & (self.age >= 40) & (t < 0.10)] = "HJ."
        t2 = rng.random(P)
        title[(self.age >= 45) & M & (t2 < 0.012)] = _pick(rng, ["DRS.", "IR.", "DR."], P)[
            (self.age >= 45) & M & (t2 < 0.012)]
        title[(self.age >= 45) & F & (t2 < 0.008)] = "DRA."
        degree = np.full(P, None, dtype=object)
        dmask = (self.age >= 23) & (self.age <= 66) & (rng.random(P) < 0.07)
        degree[dmask] = _pick(rng, _DEGREES, int(dmask.sum()))
        # BIN / BINTI + father's given name, for children whose father heads the household
        head = self.hh_start[self.hh]
        binm = (self.member >= 2) & muslim & (self.sex[head] == 0) & (
            rng.random(P) < np.where(np.isin(eth, [2, 3]), 0.18, 0.08))
        binp = np.full(P, None, dtype=object)
        fg = given[head]
        binp[binm & M] = "BIN " + fg[binm & M]
        binp[binm & F] = "BINTI " + fg[binm & F]

        # hard negatives: twins, father/son, common names
        body = body.clone()
        pat = self.twin_pat
        for p, key in enumerate(("MM", "FF", "MF")):
            sel = np.flatnonzero(pat == p)
            if sel.size == 0:
                continue
            pairs = _TWINS[key]
            ch = rng.integers(0, len(pairs), sel.size)
            na = np.array([pairs[c][0] for c in ch], dtype=object)
            nb = np.array([pairs[c][1] for c in ch], dtype=object)
            ta, tb = self.twin_a[sel], self.twin_b[sel]
            tail = _s(np.where(self.h_surname[self.hh[ta]] != None, self.h_surname[self.hh[ta]],  # noqa: E711
                               second[ta]))
            pre = _s(prefix[ta])
            body.scatter(ta, _join_parts([pre, _s(na), tail]))
            body.scatter(tb, _join_parts([pre, _s(nb), tail]))
            binp[tb] = binp[ta]
        fa, so = self.father, self.son
        for arr in (title, degree, binp):
            arr[fa] = None
            arr[so] = None
        body.scatter(so, body.gather(fa))
        a, b = self.nu_a, self.nu_b
        common = np.where(self.sex[a] == 0, _pick(rng, _COMMON_M, a.size), _pick(rng, _COMMON_F, a.size))
        body.scatter(a, _s(common))
        body.scatter(b, _s(common))
        for arr in (title, degree, binp):
            arr[a] = None
            arr[b] = None
        self.body, self.title, self.degree, self.binp = body, title, degree, binp
